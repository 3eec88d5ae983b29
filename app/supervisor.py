"""The worker process that `vivant serve` starts next to the web app, restarted if it dies or sits stuck."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from app.config import Settings
from app.models import utcnow
from app.watchdog import Watchdog

log = logging.getLogger(__name__)

# Restarts back off up to this long, so a worker that cannot start does not spin.
MAX_BACKOFF_S = 30.0
# A worker that lived this long was healthy; its death resets the back-off.
HEALTHY_AFTER_S = 60.0
# How long a worker is given to stop on its own (finishing or handing back its clip) before it is killed.
STOP_TIMEOUT_S = 20.0


class WorkerSupervisor:
    def __init__(self, settings: Settings, queues: str = "cpu,gpu", watchdog: Watchdog | None = None):
        self.settings = settings
        self.queues = queues
        self.watchdog = watchdog
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "app.cli",
            "worker",
            "--queues",
            self.queues,
            "--quiet",
            "--data-dir",
            str(self.settings.data_dir.resolve()),
        ]

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The child must use exactly our database and broker, whatever its working directory.
        env["VIVANT_DATA_DIR"] = str(self.settings.data_dir.resolve())
        env["VIVANT_DATABASE_URL"] = self.settings.sqlalchemy_url
        env["VIVANT_BROKER_URL"] = self.settings.celery_broker_url
        env["VIVANT_SECRET_KEY"] = self.settings.session_secret
        return env

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A process group of its own: a worker that will not stop is killed with its pool processes, which
        # would otherwise live on (a stopped or hung one for ever). Signals from the terminal reach serve
        # alone, which stops the worker once, warmly.
        return subprocess.Popen(self._command(), env=self._environment(), start_new_session=True)

    def start(self) -> None:
        self.process = self._spawn()
        self._thread.start()

    def _watch(self) -> None:
        backoff = 1.0
        while True:
            started = time.monotonic()
            code = self._wait_for_exit()
            if code is None:
                return
            lived = time.monotonic() - started
            backoff = 1.0 if lived > HEALTHY_AFTER_S else min(backoff * 2, MAX_BACKOFF_S)
            log.warning("worker exited with %s after %.0f s; restarting in %.0f s", code, lived, backoff)
            if self._stopping.wait(backoff):
                return
            self.process = self._spawn()
            self.restarts += 1

    def _wait_for_exit(self) -> int | None:
        """The worker's exit code, once it exits or the watchdog ends it; None when serve is stopping."""
        process = self.process
        assert process is not None
        up_since = utcnow()
        next_check = time.monotonic()
        while not self._stopping.wait(0.5):
            code = process.poll()
            if code is not None:
                return code
            if self.watchdog is None or time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + self.watchdog.bound_s / 4
            try:
                reason = self.watchdog.stuck(up_since=up_since)
                if reason is not None:
                    log.warning("restarting the worker: %s", reason)
                    _end(process, STOP_TIMEOUT_S)
                    self.watchdog.resend_waiting()
            except Exception:  # the database may be away for a moment; the next check tries again
                log.exception("worker watchdog check failed")
        return None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Warm shutdown: Celery finishes or hands back its task, then exits."""
        self._stopping.set()
        process = self.process
        if process is not None:
            _end(process, timeout)


def _end(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask the worker to stop (Celery's warm shutdown), then kill whatever is left of its process group."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    # A pool process that is stopped or hung outlives its worker unless it is killed too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
