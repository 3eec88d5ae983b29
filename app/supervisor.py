"""The worker process that `vivant serve` starts next to the web app, restarted if it dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from app.config import Settings

log = logging.getLogger(__name__)

# Restarts back off up to this long, so a worker that cannot start does not spin.
MAX_BACKOFF_S = 30.0
# A worker that lived this long was healthy; its death resets the back-off.
HEALTHY_AFTER_S = 60.0


class WorkerSupervisor:
    def __init__(self, settings: Settings, queues: str = "cpu,gpu"):
        self.settings = settings
        self.queues = queues
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
        return subprocess.Popen(self._command(), env=self._environment())

    def start(self) -> None:
        self.process = self._spawn()
        self._thread.start()

    def _watch(self) -> None:
        backoff = 1.0
        started = time.monotonic()
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            code = process.poll()
            if code is None:
                self._stopping.wait(0.5)
                continue
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            backoff = 1.0 if lived > HEALTHY_AFTER_S else min(backoff * 2, MAX_BACKOFF_S)
            log.warning("worker exited with %s after %.0f s; restarting in %.0f s", code, lived, backoff)
            if self._stopping.wait(backoff):
                return
            self.process = self._spawn()
            self.restarts += 1
            started = time.monotonic()

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown: Celery finishes or hands back its task, then exits."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
