"""The idle web process: its resident memory and which heavy modules it loaded.

`python -m bench.web_idle [--runs 3]` starts `vivant serve --no-worker` on a fresh data dir, waits
for /healthz, lets it settle, then reads /proc/PID/status and asks the process which of the engine
libraries it imported (through its own /proc/PID/maps: a shared library mapped is a module loaded).
Prints one row per run and the median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.processes import free_port
from tests.workers import stop_process_group, wait_for

# Shared objects whose presence in the maps tells that a library was imported.
HEAVY = {"cv2": "cv2", "torch": "libtorch", "numpy": "_multiarray_umath", "av": "libavcodec"}


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def measure_once(settle_s: float) -> tuple[float, float, list[str]]:
    """(RSS MiB, peak RSS MiB, heavy libraries mapped) of one idle web process."""
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--no-worker",
                "--port",
                str(port),
                "--data-dir",
                data,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:

            def healthy() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, timeout=60, what="vivant serve")
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            time.sleep(settle_s)  # the reading is of a process at rest, not a measure of time
            maps = Path(f"/proc/{process.pid}/maps").read_text()
            loaded = sorted(name for name, marker in HEAVY.items() if marker in maps)
            return _status_kb(process.pid, "VmRSS") / 1024, _status_kb(process.pid, "VmHWM") / 1024, loaded
        finally:
            stop_process_group(process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web_idle", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds at rest before reading")
    args = parser.parse_args(argv)
    rows = [measure_once(args.settle) for _ in range(max(1, args.runs))]
    print(f"{'run':<6}{'RSS MiB':>10}{'peak MiB':>10}  heavy libraries loaded")
    for index, (rss, peak, loaded) in enumerate(rows, 1):
        print(f"{index:<6}{rss:>10.1f}{peak:>10.1f}  {', '.join(loaded) or 'none'}")
    rss, peak = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
    print(f"{'median':<6}{rss:>10.1f}{peak:>10.1f}")


if __name__ == "__main__":
    main()
