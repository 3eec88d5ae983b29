"""Real processes for the fault and hostile-input tests: a private Redis, `vivant serve`, /proc readings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.config import Settings
from tests.conftest import service_reachable
from tests.workers import settings_environment, stop_process_group, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence, that a test may stop and start.

    The shared Redis on 6379 is never stopped: other tests and people use it.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: service_reachable("127.0.0.1", self.port), timeout=10, what="redis-server to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def serve_command(settings: Settings, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(settings.data_dir.resolve()),
        *extra,
    ]


@contextmanager
def running_server(
    settings: Settings, *extra_args: str, log: Path | None = None, **extra_env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`vivant serve` in its own process group; yields the process and its base URL once /healthz answers."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        serve_command(settings, port, *extra_args),
        env=settings_environment(settings, **extra_env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base, process), timeout=60, what="vivant serve to answer /healthz")
        yield process, base
    finally:
        stop_process_group(process)
        if log:
            out.close()  # type: ignore[union-attr]


def _healthy(base: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"vivant serve exited with {process.returncode} before it answered")
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def peak_rss_bytes(pid: int) -> int:
    """The high-water mark of the process's resident memory (VmHWM): a spike between samples still shows."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def open_file_bytes(pid: int, under: Path) -> int:
    """Total size of the files `pid` holds open below `under`, unlinked ones included (Python's
    TemporaryFile has no name on Linux, so listing the folder would miss it)."""
    total = 0
    prefix = str(under.resolve())
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(prefix):
                total += fd.stat().st_size
        except OSError:
            continue  # closed while we looked
    return total


def bytes_read(pid: int) -> int:
    """Bytes the process has read through read() calls, sockets included (/proc/PID/io rchar)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no rchar in /proc/{pid}/io")


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
