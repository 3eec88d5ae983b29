"""The built wheel, installed without -e into a fresh venv, run from a folder outside the checkout.

The venv sees nothing of the checkout: no source tree on its path, no templates, static files or
migrations beside it. What the wheel does not carry, these commands cannot find.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixture_paths import FIXTURES
from tests.processes import free_port
from tests.workers import stop_process_group, wait_for
from worker.video import probe

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PHOTO = FIXTURES / "photos" / "einstein.jpg"  # 375x500: a clip in a few seconds


@dataclass(frozen=True)
class Installed:
    bin: Path
    elsewhere: Path  # the working directory of every command: not the checkout
    env: dict[str, str]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "vivant"), *args],
            cwd=self.elsewhere,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("vivant-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    # The same pip cache and index as the test venv's own install: no new downloads where it was warm.
    pip = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True
    )
    assert pip.returncode == 0, pip.stderr
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith("VIVANT_")
    }
    env.update(OMP_NUM_THREADS="1", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return Installed(bin_dir, elsewhere, env)


def test_the_wheel_is_what_runs(installed: Installed) -> None:
    probe_script = (
        "import app, worker, app.templating as t, app.migrate as m; "
        "print(app.__file__); print(worker.__file__); "
        "print(t.TEMPLATES_DIR / 'gallery.html'); print(t.STATIC_DIR / 'app.css'); "
        "print(m.alembic_config('sqlite://').get_main_option('script_location'))"
    )
    shown = subprocess.run(
        [str(installed.bin / "python"), "-c", probe_script],
        cwd=installed.elsewhere,
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
    )
    site_packages = installed.bin.parent / "lib"
    for line in shown.stdout.split():
        path = Path(line)
        assert path.is_relative_to(site_packages), f"{path} is not from the installed wheel"
        assert path.exists(), f"the wheel lacks {path}"


@pytest.fixture(scope="module")
def server(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("wheel-data")
    port = free_port()
    log = open(data.parent / "wheel-serve.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [str(installed.bin / "vivant"), "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=installed.elsewhere,
        env={**installed.env, "VIVANT_CLIP_LONG_SIDE": "320", "VIVANT_DEFAULT_SECONDS": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, (data.parent / "wheel-serve.log").read_text()
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, timeout=90, what="the installed vivant serve to answer /healthz")
        yield base
    finally:
        stop_process_group(process)
        log.close()


def test_installed_serve_makes_a_clip_and_shows_it_in_the_gallery(server: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=server, timeout=30) as browser:
        assert browser.get("/", follow_redirects=True).url.path == "/setup"
        assert browser.get("/static/app.css").status_code == 200
        setup = browser.post(
            "/api/setup", json={"email": "grandma@example.com", "password": "a long password"}
        )
        assert setup.status_code == 201, setup.text
        csrf = {"X-CSRF-Token": setup.json()["csrf_token"]}
        uploaded = browser.post(
            "/api/photos", files=[("files", (PHOTO.name, PHOTO.read_bytes(), "image/jpeg"))], headers=csrf
        )
        assert uploaded.status_code == 201, uploaded.text
        photo_id, clip_id = uploaded.json()[0]["id"], uploaded.json()[0]["clip_id"]

        def clip_done() -> dict[str, object] | None:
            clip = browser.get(f"/api/clips/{clip_id}").json()
            assert clip["status"] != "failed", clip["error"]
            return clip if clip["status"] == "ready" else None

        clip = wait_for(clip_done, timeout=180, what="the first clip to be ready")
        video = browser.get(str(clip["video_url"]))
        assert video.status_code == 200
        (tmp_path / "clip.mp4").write_bytes(video.content)
        decoded = probe(tmp_path / "clip.mp4")
        assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
        assert decoded.frames > 1

        # The gallery page is drawn by its script from /api/photos: all three come from the wheel.
        gallery = browser.get("/")
        assert gallery.status_code == 200 and "/static/gallery.js" in gallery.text
        assert browser.get("/static/gallery.js").status_code == 200
        (listed,) = browser.get("/api/photos").json()["items"]
        assert listed["id"] == photo_id
        assert [c["status"] for c in listed["clips"]] == ["ready"]
        assert browser.get(listed["thumbnail_url"]).headers["content-type"] == "image/jpeg"


def test_installed_commands_work_outside_the_checkout(installed: Installed, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    created = installed.run("createuser", "grandpa@example.com", "--admin", "--password-stdin", *data,
                            stdin="another long password\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created administrator grandpa@example.com" in created.stdout

    folder = tmp_path / "album"
    folder.mkdir()
    (folder / PHOTO.name).write_bytes(PHOTO.read_bytes())
    imported = installed.run("import", str(folder), *data)
    assert imported.returncode == 0, imported.stderr
    assert "1 added" in imported.stdout

    clip = tmp_path / "einstein.mp4"
    animated = installed.run("animate", str(PHOTO), "-o", str(clip), "--seconds", "1", "--long-side", "320")
    assert animated.returncode == 0, animated.stderr
    assert animated.stdout.strip().splitlines()[-1] == str(clip)
    assert probe(clip).codec == "h264"

    listed = installed.run("models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ltx" in listed.stdout

    benched = installed.run("bench", str(PHOTO), "--repeat", "1", "--out", str(tmp_path / "bench"))
    assert benched.returncode == 0, benched.stderr
    table = benched.stdout.splitlines()
    assert table[0].split()[:2] == ["photo", "variant"]
    assert any(line.startswith("einstein") for line in table[1:])
    assert list((tmp_path / "bench").glob("einstein*.png")), "a contact sheet per clip"

    no_photos = installed.run("bench")
    assert no_photos.returncode == 2 and "name the photos to bench" in no_photos.stderr
