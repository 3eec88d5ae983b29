"""Peak memory of a real `vivant serve` process while it receives large uploads in parallel.

`python -m bench.uploads [--code DIR ...] [--parallel 4] [--mb 100] [--megapixels 12]`
For each code tree (a checkout of Vivant; default this one, e.g. `git worktree add /tmp/before f1685c5`
and `--code /tmp/before --code .` for before and after), starts `vivant serve --no-worker` from it on a
fresh data dir, signs in, uploads one small photo to warm the decoders up, then sends `--parallel` photos
of `--mb` MB each at once (a real JPEG of `--megapixels`, 12 by default as from a phone, padded with
zeros after its end; each different so none is a duplicate). Prints one row per tree: the server's
resident memory before, its high-water mark (VmHWM, so a spike between samples still counts) and the
growth, with the wall time and the answers. Decoding the photos costs memory in any case; a 1 MP photo
leaves what receiving the bytes costs.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _photo(size_mb: int, megapixels: float, directory: Path, index: int) -> Path:
    """A valid JPEG of exactly `size_mb` MB: smooth 4:3 content, then zeros (readers stop at its end)."""
    height = round((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = height * 4 // 3
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    np.full((height, width), 40.0 * index)], axis=-1).astype(np.uint8)  # fmt: skip
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=90)
    data = out.getvalue()
    path = directory / f"big{index}.jpg"
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(size_mb * MB)  # the zeros after the photo's end
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _label(code: Path) -> str:
    commit = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(code), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (commit or code.name) + ("+" if dirty else "")


def _run(code: Path, photos: list[Path], size_mb: int, work: Path) -> dict[str, object]:
    data_dir, tmp_dir = work / "data", work / "tmp"
    tmp_dir.mkdir(parents=True)
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(code),
        TMPDIR=str(tmp_dir),
        OMP_NUM_THREADS="1",
        VIVANT_SECRET_KEY="bench-" + "b" * 30,
        VIVANT_AUTO_ANIMATE="false",
        # The limit is per request: each request carries one photo.
        VIVANT_MAX_UPLOAD_MB=str(size_mb + 10),
    )
    command = [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"vivant serve from {code} did not start")
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=600) as http:
            created = http.post("/api/setup", json={"email": "bench@example.org", "password": "bench-" * 4})
            headers = {"X-CSRF-Token": created.json()["csrf_token"]}
            warm = REPO / "tests" / "fixtures" / "photos" / "hopper.jpg"
            http.post("/api/photos", files=[("files", (warm.name, warm.read_bytes()))], headers=headers)
            before = _status_kb(server.pid, "VmRSS") / 1024

            def send(path: Path) -> int:
                with open(path, "rb") as f:
                    answer = http.post("/api/photos", files=[("files", (path.name, f))], headers=headers)
                return answer.status_code

            start = time.monotonic()
            with ThreadPoolExecutor(len(photos)) as pool:
                statuses = list(pool.map(send, photos))
            wall = time.monotonic() - start
        peak = _status_kb(server.pid, "VmHWM") / 1024
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    return {
        "code": _label(code),
        "statuses": ",".join(str(s) for s in statuses),
        "wall": wall,
        "before": before,
        "peak": peak,
        "growth": peak - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, action="append", help="a Vivant checkout (repeatable)")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--mb", type=int, default=100, help="size of each upload")
    parser.add_argument(
        "--megapixels", type=float, default=12, help="of the photo inside (its decoding costs memory too)"
    )
    args = parser.parse_args()
    codes = [c.resolve() for c in (args.code or [REPO])]
    rows = []
    with tempfile.TemporaryDirectory(prefix="vivant-bench-uploads-") as work:
        photos = [_photo(args.mb, args.megapixels, Path(work), i) for i in range(args.parallel)]
        for index, code in enumerate(codes):
            rows.append(_run(code, photos, args.mb, Path(work) / f"run{index}-{secrets.token_hex(4)}"))
    print(
        f"{args.parallel} parallel uploads of {args.mb} MB (a {args.megapixels:g} MP JPEG padded), "
        "one `vivant serve` process"
    )
    print(f"{'code':<10} {'answers':<16} {'wall s':>7} {'RSS before MB':>14} {'peak MB':>8} {'growth MB':>9}")
    for row in rows:
        print(
            f"{row['code']:<10} {row['statuses']:<16} {row['wall']:>7.1f} {row['before']:>14.0f} "
            f"{row['peak']:>8.0f} {row['growth']:>9.0f}"
        )


if __name__ == "__main__":
    main()
