"""Starting and stopping real `vivant worker` processes for tests, and polling with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from app.config import Settings

T = TypeVar("T")


def settings_environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VIVANT_DATA_DIR=str(settings.data_dir.resolve()),
        VIVANT_DATABASE_URL=settings.sqlalchemy_url,
        VIVANT_BROKER_URL=settings.celery_broker_url,
        VIVANT_SECRET_KEY=settings.session_secret,
        VIVANT_STALE_AFTER_S=str(settings.stale_after_s),
        VIVANT_MAX_ATTEMPTS=str(settings.max_attempts),
        VIVANT_TASK_TIME_LIMIT_S=str(settings.task_time_limit_s),
        VIVANT_BROKER_VISIBILITY_TIMEOUT_S=str(settings.broker_visibility_timeout_s),
        VIVANT_CLIP_LONG_SIDE=str(settings.clip_long_side),
        VIVANT_DEFAULT_SECONDS=str(settings.default_seconds),
        VIVANT_RECONCILE_INTERVAL_S=str(settings.reconcile_interval_s),
        VIVANT_WATCHDOG_S=str(settings.watchdog_s),
        OMP_NUM_THREADS="1",
    )
    env.update(extra)
    return env


@contextmanager
def running_worker(
    settings: Settings, queues: str = "cpu,gpu", **extra_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--queues", queues, "--concurrency", "1"],
        env=settings_environment(settings, **extra_env),
        start_new_session=True,  # its own process group, so the pool children go down with it
    )
    try:
        yield process
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Poll until `condition` returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
