"""The `vivant` command line as a person types it: real processes, a real data dir."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.lan import lan_address
from app.main import create_app
from tests.fixture_paths import FIXTURES
from tests.processes import running_server
from tests.workers import wait_for
from worker.video import probe

COMMANDS = [
    "serve", "worker", "animate", "import", "createuser", "setpassword", "backup", "restore", "check",
    "models", "metrics", "bench",
]  # fmt: skip


def vivant(
    *args: str, data_dir: Path | None = None, stdin: str | None = None, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", **env_vars)
    if data_dir is not None:
        env["VIVANT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_command_is_listed_and_has_help() -> None:
    listing = vivant("--help")
    assert listing.returncode == 0
    for command in COMMANDS:
        assert command in listing.stdout
        helped = vivant(command, "--help")
        assert helped.returncode == 0 and "Usage:" in helped.stdout, command
    assert vivant("models", "list", "--help").returncode == 0


def test_createuser_then_import_a_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "family"
    (folder / "summer").mkdir(parents=True)
    shutil.copy(FIXTURES / "photos" / "hopper.jpg", folder / "hopper.jpg")
    shutil.copy(FIXTURES / "photos" / "dog.png", folder / "summer" / "dog.png")
    shutil.copy(FIXTURES / "bad" / "text_named_as.jpg", folder / "notes.jpg")

    refused = vivant("import", str(folder), data_dir=data)
    assert refused.returncode != 0 and "createuser" in refused.stderr

    created = vivant("createuser", "Grandma@Example.com", "--admin", "--password-stdin", data_dir=data,
                     stdin="a long password\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created administrator grandma@example.com" in created.stdout
    again = vivant(
        "createuser", "grandma@example.com", "--password-stdin", data_dir=data, stdin="another one\n"
    )
    assert again.returncode != 0 and "already exists" in again.stderr

    first = vivant("import", str(folder), "--animate", data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 already there, 1 refused, 2 clips queued" in first.stdout
    assert "notes.jpg" in first.stderr
    second = vivant("import", str(folder), data_dir=data)
    assert "0 added, 2 already there, 1 refused, 0 clips queued" in second.stdout


def test_setpassword_lets_a_forgetful_admin_back_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = vivant("createuser", "grandma@example.com", "--admin", "--password-stdin", data_dir=data,
                     stdin="the forgotten one\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    app = create_app(Settings(data_dir=data), reconcile=False)
    with TestClient(app) as browser:
        signed_in = browser.post(
            "/api/auth/login", json={"email": "grandma@example.com", "password": "the forgotten one"}
        )
        assert signed_in.status_code == 200

        reset = vivant("setpassword", "Grandma@Example.com", "--password-stdin", data_dir=data,
                       stdin="remembered at last\n")  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert "new password set for grandma@example.com" in reset.stdout
        assert browser.get("/api/me").status_code == 401  # signed out everywhere
        for password, status in (("the forgotten one", 401), ("remembered at last", 200)):
            answer = browser.post(
                "/api/auth/login", json={"email": "grandma@example.com", "password": password}
            )
            assert answer.status_code == status, password

    unknown = vivant(
        "setpassword", "nobody@example.com", "--password-stdin", data_dir=data, stdin="long enough\n"
    )
    assert unknown.returncode != 0 and "no account nobody@example.com" in unknown.stderr
    short = vivant("setpassword", "grandma@example.com", "--password-stdin", data_dir=data, stdin="short\n")
    assert short.returncode != 0 and "at least 8 characters" in short.stderr


def test_animate_prints_the_path_last_and_metrics_reads_it_back(tmp_path: Path) -> None:
    photo = FIXTURES / "photos" / "einstein.jpg"
    out = tmp_path / "clip.mp4"
    made = vivant("animate", str(photo), "-o", str(out), "--seconds", "2", "--fps", "12", "--loop")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1] == str(out)
    info = probe(out)
    assert (info.codec, info.frames) == ("h264", 24)
    measured = vivant("metrics", str(out), "--photo", str(photo))
    assert measured.returncode == 0, measured.stderr
    metrics = json.loads(measured.stdout)
    assert metrics["psnr_first"] >= 36 and metrics["loop_seam"] <= 3


def test_animate_reports_the_motion_it_gated_and_with_metrics_prints_every_measure(tmp_path: Path) -> None:
    photo = FIXTURES / "photos" / "dog.png"
    out = tmp_path / "dog.mp4"
    plain = vivant(
        "animate", str(photo), "-o", str(out), "--seconds", "1", "--fps", "12", "--long-side", "320"
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == str(out)  # only the path: scripts read it
    line = (
        r"320x320, 12 frames; motion (\d\.\d\d) px/frame at 720 px \(gentle: 0.08-1.0, (in band|adjusted)\)"
    )
    shown = re.search(line, plain.stderr)
    assert shown is not None, plain.stderr

    full = vivant("animate", str(photo), "-o", str(out), "--seconds", "1", "--fps", "12",
                  "--long-side", "320", "--metrics")  # fmt: skip
    assert full.returncode == 0, full.stderr
    *report, path = full.stdout.strip().splitlines()
    metrics = json.loads("\n".join(report))
    assert path == str(out)
    assert metrics["psnr_first"] >= 36 and metrics["edges_ok"] and metrics["smoothness"] > 0.99
    # The motion printed on the line is the motion measured: the same figure both ways.
    assert metrics["flow_mean"] == pytest.approx(float(shown[1]), abs=0.006)


@pytest.mark.parametrize("how", ["environment", "option"])
def test_animate_keeps_the_pixel_limit_from_the_environment_or_its_option(tmp_path: Path, how: str) -> None:
    out = tmp_path / "x.mp4"
    photo = str(FIXTURES / "photos" / "einstein.jpg")  # 375x500: 187,500 pixels
    if how == "environment":
        refused = vivant("animate", photo, "-o", str(out), VIVANT_MAX_PIXELS="100000")
    else:
        refused = vivant("animate", photo, "-o", str(out), "--max-pixels", "100000", VIVANT_MAX_PIXELS="1")
    assert refused.returncode != 0
    assert (
        "einstein.jpg" in refused.stderr
        and "megapixels" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    assert not out.exists()


def test_animate_refuses_a_file_that_is_not_a_photo(tmp_path: Path) -> None:
    result = vivant("animate", str(FIXTURES / "bad" / "script.svg"), "-o", str(tmp_path / "x.mp4"))
    assert result.returncode != 0
    assert "script.svg" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("mask", ["text", "wrong size"])
def test_animate_refuses_a_keep_still_mask_it_cannot_use_with_the_reason(tmp_path: Path, mask: str) -> None:
    photo = FIXTURES / "photos" / "einstein.jpg"  # 375x500
    drawn = tmp_path / "mask.png"
    if mask == "text":
        drawn.write_text("not a picture")
    else:
        Image.new("L", (100, 100), 255).save(drawn)
    result = vivant("animate", str(photo), "-o", str(tmp_path / "x.mp4"), "--keep-still", str(drawn))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    reason = "cannot be read as an image" if mask == "text" else "100x100 but the photo is 375x500"
    assert "keep-still mask" in result.stderr and reason in result.stderr, result.stderr
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("preset", ["svd-xt", "ltx", "wan", "cogvideox"])
def test_models_list_names_each_preset_and_where_its_weights_go(tmp_path: Path, preset: str) -> None:
    env_dir = tmp_path / "models"
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "models", "list"],
        env=dict(os.environ, VIVANT_MODEL_DIR=str(env_dir)), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    line = next(row for row in result.stdout.splitlines() if row.startswith(preset))
    assert " no " in f" {line} "


def test_serve_on_a_port_in_use_says_so_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = vivant("serve", "--port", str(port), data_dir=tmp_path / "data")
    assert result.returncode != 0
    assert "already in use" in result.stderr and "--port" in result.stderr
    assert "running" not in result.stdout and "Traceback" not in result.stderr


def test_lan_address_is_a_real_address_of_this_computer() -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    assert not ipaddress.ip_address(address).is_loopback
    # It is ours: a socket can be bound to it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))


@pytest.mark.slow
def test_serve_on_all_addresses_prints_the_home_network_address(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="lan-secret-" + "l" * 20)
    log = tmp_path / "serve.log"
    with running_server(settings, "--host", "0.0.0.0", "--no-worker", log=log):
        output = wait_for(
            lambda: "home network" in log.read_text() and log.read_text(), timeout=10, what="output"
        )
    address = lan_address()
    if address is None:
        assert "No home network address found" in output
    else:
        assert f"On your home network: http://{address}:" in output
        assert "VIVANT_PUBLIC_URL" in output
