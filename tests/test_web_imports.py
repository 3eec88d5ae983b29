"""What loads where: the web app routes clips without an engine (no OpenCV, torch or diffusers in its
process), and `vivant animate` renders without the settings machinery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ENGINE_MODULES = ("cv2", "torch", "diffusers", "worker.engines", "worker.render")

# A fresh interpreter: this test process has loaded every engine for other tests.
SERVE_AND_LIST = """
import json, sys
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app
from app.migrate import upgrade

settings = Settings(data_dir=sys.argv[1], secret_key="imports-" + "x" * 24)
settings.ensure_dirs()
upgrade(settings.sqlalchemy_url)
with TestClient(create_app(settings, reconcile=False)) as client:
    pages = [client.get(path).status_code for path in ("/healthz", "/setup", "/login")]
    setup = client.post("/api/setup", json={"email": "a@example.com", "password": "a long password"})
    photo = open(sys.argv[2], "rb").read()
    upload = client.post(
        "/api/photos", files=[("files", ("p.jpg", photo, "image/jpeg"))],
        headers={"X-CSRF-Token": setup.json()["csrf_token"]},
    )
print(json.dumps({"pages": pages, "upload": upload.status_code, "modules": sorted(sys.modules)}))
"""


def test_serving_pages_and_an_upload_loads_no_engine(tmp_path: Path) -> None:
    photo = Path(__file__).parent / "fixtures" / "photos" / "hopper.jpg"
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST, str(tmp_path / "data"), str(photo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.splitlines()[-1])
    assert shown["pages"] == [200, 200, 200] and shown["upload"] == 201
    loaded = [
        name for name in shown["modules"] if name.split(".")[0] in ENGINE_MODULES or name in ENGINE_MODULES
    ]
    assert loaded == [], f"the web app loaded engine code: {loaded}"


# `vivant animate`, whole, in a fresh interpreter: which modules it loaded on the way.
ANIMATE = """
import json, sys
from app.cli import main
try:
    main(["animate", sys.argv[1], "-o", sys.argv[2], "--seconds", "0.5", "--fps", "12", "--long-side", "160"])
except SystemExit as done:
    assert done.code in (0, None), done.code
print(json.dumps(sorted(sys.modules)))
"""


def test_vivant_animate_starts_without_the_settings_machinery(tmp_path: Path) -> None:
    """Its settings come as options (VIVANT_ variables included): pydantic-settings costs a tenth of a second
    of the two a clip takes."""
    photo = Path(__file__).parent / "fixtures" / "photos" / "hopper.jpg"
    done = subprocess.run(
        [sys.executable, "-c", ANIMATE, str(photo), str(tmp_path / "clip.mp4")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.splitlines()[-1])
    assert (tmp_path / "clip.mp4").stat().st_size > 0
    assert "worker.engines.parallax" in modules  # it did render
    assert [name for name in modules if name.startswith(("pydantic_settings", "app.config"))] == []
