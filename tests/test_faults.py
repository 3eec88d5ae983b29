"""Faults with real processes: killed workers, re-deliveries, a lost broker, poison and hung clips, SIGTERM.

Every test drives real `vivant worker` / `vivant serve` processes against a real database and broker and
polls the database (the truth) with deadlines. What must hold each time: every clip ends `ready` exactly
once (one row, one video, no temporary file) or `failed` with a reason; nothing stays `running`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.clips import create_clip
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.models import Clip, Photo
from app.schemas import ClipRequest
from app.storage import MediaStore
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REDIS_URL, _truncate_all, set_up_admin, upload
from tests.fixture_paths import FIXTURES
from tests.processes import children, kill9, private_redis, process_alive, running_server
from tests.workers import running_worker, settings_environment, stop_process_group, wait_for
from worker.video import probe

pytestmark = pytest.mark.slow

PUG = FIXTURES / "photos" / "pug.heic"  # 4032x3024: its clip takes several seconds, long enough to kill
SMALL = [FIXTURES / "photos" / name for name in ("hopper.jpg", "einstein.jpg", "dog.png")]
LATE = [FIXTURES / "photos" / name for name in ("child_reading_painting.jpg", "seated_lady_painting.jpg")]


def fault_settings(
    tmp_path: Path, *, database_url: str = "", broker_url: str = "", **fields: object
) -> Settings:
    """Settings on a fresh data dir: a short stale time so a dead worker is noticed within seconds."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "broker_url": broker_url,
        "secret_key": "faults-secret-" + "z" * 20,
        "stale_after_s": 6,
        "reconcile_interval_s": 1.0,
        "clip_long_side": 640,
        # Long enough (about 2 s of rendering on a quiet machine) that a test can catch a clip mid-render.
        "default_seconds": 16.0,
    }
    settings = Settings(**(values | fields))  # type: ignore[arg-type]
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    return settings


@pytest.fixture
def redis_db_url() -> Iterator[str]:
    """A database of its own on the shared Redis (never stopped), emptied before and after."""
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{secrets.randbelow(14) + 1}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def broker_url(request: pytest.FixtureRequest) -> str:
    """The broker a test runs on: the embedded one (an empty URL) or a database of the shared Redis."""
    return "" if request.param == "embedded" else str(request.getfixturevalue("redis_db_url"))


@pytest.fixture
def fresh_postgres(postgres_url: str) -> str:
    _truncate_all(postgres_url)
    return postgres_url


class Clips:
    """Reads clip rows straight from the database, as the truth."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.database = Database(settings.sqlalchemy_url)
        self.store = MediaStore(settings.media_dir)

    def get(self, clip_id: str) -> Clip:
        with self.database.session() as session:
            clip = session.get(Clip, clip_id)
            assert clip is not None
            return clip

    def count(self) -> int:
        with self.database.session() as session:
            return session.query(Clip).count()

    def statuses(self) -> dict[str, str]:
        with self.database.session() as session:
            return {clip.id: clip.status for clip in session.query(Clip)}

    def wait_running(
        self, clip_id: str, *, past: float = 0.15, attempt: int = 1, timeout: float = 120
    ) -> Clip:
        def running() -> Clip | None:
            clip = self.get(clip_id)
            assert clip.status in ("queued", "running"), (clip.status, clip.error)
            return (
                clip
                if clip.status == "running" and clip.attempts == attempt and clip.progress >= past
                else None
            )

        return wait_for(
            running, timeout=timeout, what=f"try {attempt} of clip {clip_id} to be {past:.0%} rendered"
        )

    def wait_any_running(self, clip_ids: list[str], *, past: float, timeout: float = 120) -> Clip:
        """The first of `clip_ids` found rendering: which one depends on how fast the earlier ones went."""

        def running() -> Clip | None:
            clips = [self.get(clip_id) for clip_id in clip_ids]
            assert any(clip.status != "ready" for clip in clips), "every clip finished before one was caught"
            return next((c for c in clips if c.status == "running" and c.progress >= past), None)

        return wait_for(running, timeout=timeout, what=f"one of {len(clip_ids)} clips to be rendering")

    def wait_final(self, clip_id: str, *, timeout: float, reconcile: object = None) -> Clip:
        """Poll until the clip is ready or failed, running the reconciler each time as the web app would."""

        def final() -> Clip | None:
            if reconcile is not None:
                reconcile()  # type: ignore[operator]
            clip = self.get(clip_id)
            return clip if clip.status in ("ready", "failed") else None

        return wait_for(final, timeout=timeout, what=f"clip {clip_id} to finish", every=0.5)

    def assert_one_clean_video(self, clip_id: str) -> None:
        videos = sorted(self.settings.media_dir.rglob("*.mp4"))
        assert videos == [self.store.video(clip_id)]
        assert self.store.poster(clip_id).is_file()
        assert probe(videos[0]).frames >= 2
        assert not [p for p in self.settings.media_dir.rglob("*") if p.name.endswith(".tmp")]

    def close(self) -> None:
        self.database.dispose()


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, reconcile=False))


# --- 3. kill -9 of a pool process, in the middle of a clip or idle -------------------------------------

# A pool process killed mid-clip is known to its worker at once: the clip must be rendering again within
# this long (the stale heartbeat, VIVANT_STALE_AFTER_S, is set far beyond it, so only that path meets it).
BACK_WITHIN_S = 15


def test_killed_pool_child_clip_rendering_again_at_once_and_ready_once(
    tmp_path: Path, broker_url: str
) -> None:
    settings = fault_settings(tmp_path, broker_url=broker_url, stale_after_s=120)
    clips = Clips(settings)
    with running_worker(settings) as worker, _client(settings) as client:
        clip_id = upload(client, set_up_admin(client), PUG).json()[0]["clip_id"]
        clips.wait_running(clip_id)
        (child,) = children(worker.pid)
        kill9(child)
        clips.wait_running(clip_id, past=0.0, attempt=2, timeout=BACK_WITHIN_S)
        clip = clips.wait_final(clip_id, timeout=150)
        assert worker.poll() is None  # the worker itself lived on and replaced its child
    assert clip.status == "ready", clip.error
    # The killed run and the one that finished.
    assert clip.attempts == 2
    assert clips.count() == 1
    clips.assert_one_clean_video(clip_id)
    clips.close()


def test_idle_pool_child_killed_the_next_clip_is_still_rendered(tmp_path: Path, broker_url: str) -> None:
    # What the OOM killer does to a worker between clips. On the embedded broker this once stopped all
    # rendering: the replacement child waited for ever on a lock that the killed one held.
    settings = fault_settings(tmp_path, broker_url=broker_url, default_seconds=2.0)
    clips = Clips(settings)
    with running_worker(settings) as worker, _client(settings) as client:
        csrf = set_up_admin(client)
        first = upload(client, csrf, SMALL[0]).json()[0]["clip_id"]
        assert clips.wait_final(first, timeout=120).status == "ready"  # the worker is up, its child idle
        (child,) = children(worker.pid)
        kill9(child)
        wait_for(lambda: set(children(worker.pid)) - {child}, timeout=30, what="a new pool process")
        second = upload(client, csrf, SMALL[1]).json()[0]["clip_id"]
        # No reconciler here: the one message sent at upload must be rendered.
        clip = clips.wait_final(second, timeout=30)
        assert worker.poll() is None
    assert clip.status == "ready", clip.error
    assert clip.attempts == 1
    clips.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_killed_worker_clip_finished_by_a_new_worker(
    tmp_path: Path, redis_db_url: str, fresh_postgres: str
) -> None:
    settings = fault_settings(tmp_path, database_url=fresh_postgres, broker_url=redis_db_url)
    clips = Clips(settings)
    with _client(settings) as client:
        clip_id = upload(client, set_up_admin(client), PUG).json()[0]["clip_id"]
        with running_worker(settings) as first:
            clips.wait_running(clip_id)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        assert clips.get(clip_id).status == "running"  # nobody told the database
        reconcile = client.app.state.services.dispatcher.reconcile
        with running_worker(settings):
            clip = clips.wait_final(clip_id, timeout=150, reconcile=reconcile)
    assert clip.status == "ready", clip.error
    assert clip.attempts == 2 and clips.count() == 1
    clips.assert_one_clean_video(clip_id)
    clips.close()


def test_clip_whose_worker_keeps_dying_fails_with_a_reason(tmp_path: Path, broker_url: str) -> None:
    settings = fault_settings(tmp_path, broker_url=broker_url, max_attempts=2, stale_after_s=120)
    clips = Clips(settings)
    with running_worker(settings) as worker, _client(settings) as client:
        clip_id = upload(client, set_up_admin(client), PUG).json()[0]["clip_id"]
        clips.wait_running(clip_id)
        kill9(children(worker.pid)[0])
        # Taken back and claimed again at once; killed again as soon as it is claimed.
        clips.wait_running(clip_id, past=0.0, attempt=2, timeout=BACK_WITHIN_S)
        kill9(children(worker.pid)[0])
        clip = clips.wait_final(clip_id, timeout=BACK_WITHIN_S)
    assert clip.status == "failed"
    assert clip.error and "worker stopped 2 times" in clip.error and "given up" in clip.error
    assert clip.attempts == 2
    assert not list(settings.media_dir.rglob("*.mp4"))
    clips.close()


# A worker that takes no clips is restarted by `vivant serve` once clips have waited this long.
WATCHDOG_S = 8


def test_serve_restarts_a_worker_that_sits_stuck_while_clips_wait(tmp_path: Path, broker_url: str) -> None:
    settings = fault_settings(tmp_path, broker_url=broker_url, default_seconds=2.0, watchdog_s=WATCHDOG_S)
    clips = Clips(settings)
    log = tmp_path / "serve.log"
    with (
        running_server(settings, log=log) as (serve, base),
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        headers = _sign_in(http)
        first = _timed_upload(http, headers, SMALL[0])[0].json()[0]["clip_id"]
        assert clips.wait_final(first, timeout=120).status == "ready"
        (worker,) = children(serve.pid)
        (pool_process,) = children(worker)
        # Alive but doing nothing, like a pool process hung in a driver: its worker hands it the next
        # clip's message and waits for ever.
        os.kill(pool_process, signal.SIGSTOP)
        try:
            second = _timed_upload(http, headers, SMALL[1])[0].json()[0]["clip_id"]
            clip = clips.wait_final(second, timeout=WATCHDOG_S + 90)
            # The stuck worker went, its stopped pool process with it, and a new worker rendered the clip.
            assert not process_alive(worker) and not process_alive(pool_process)
            assert children(serve.pid) and children(serve.pid) != [worker]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pool_process, signal.SIGKILL)
    assert clip.status == "ready", clip.error
    text = log.read_text()
    assert "restarting the worker: 1 clip(s) sent over 8 s ago still wait" in text, text[-3000:]
    assert "VIVANT_WATCHDOG_S" in text
    clips.close()


# --- 4. the broker's visibility timeout ---------------------------------------------------------------

# A worker whose broker re-delivers after `visibility` seconds and sweeps for such messages every second.
# The startup check forbids this pairing (see the test below); it is forced here to prove that the claim
# on the clip row, not the broker, is what keeps a clip from being rendered twice.
_SHORT_VISIBILITY_WORKER = """
import sys
from app.config import Settings
from worker.celery_app import create_celery
settings = Settings().model_copy(update={"broker_visibility_timeout_s": int(sys.argv[1])})
celery = create_celery(settings)
celery.conf.broker_transport_options |= {"unacked_restore_interval": 1, "unacked_restore_throttle": 1}
celery.worker_main(["worker", "--queues", "cpu,gpu", "--concurrency", "2", "--pool", "prefork",
                    "--loglevel", "INFO", "--without-gossip", "--without-mingle"])
"""


@pytest.mark.redis
@pytest.mark.postgres
def test_redelivery_after_visibility_timeout_renders_once(
    tmp_path: Path, redis_db_url: str, fresh_postgres: str
) -> None:
    # A render of several seconds even on a fast, quiet machine (288 frames at 1280 px: about 8 s here),
    # far past the 2 s visibility timeout below: a render shorter than the restore cycle is never re-sent.
    settings = fault_settings(
        tmp_path,
        database_url=fresh_postgres,
        broker_url=redis_db_url,
        clip_long_side=1280,
        default_seconds=12.0,
    )
    clips = Clips(settings)
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", _SHORT_VISIBILITY_WORKER, "2"],
            env=settings_environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with _client(settings) as client:
                clip_id = upload(client, set_up_admin(client), PUG).json()[0]["clip_id"]
                clip = clips.wait_final(clip_id, timeout=150)

                def both_deliveries_done() -> bool:
                    text = log.read_text()
                    return text.count("succeeded in") >= 2

                wait_for(both_deliveries_done, timeout=30, what="the second delivery to finish")
        finally:
            stop_process_group(worker)
    text = log.read_text()
    # The broker really handed the clip out twice while it rendered ...
    assert text.count("] received") == 2, text[-3000:]
    assert text.count(": 'skipped'") == 1 and text.count(": 'ready'") == 1
    # ... and the clip was rendered once.
    assert clip.status == "ready", clip.error
    assert clip.attempts == 1
    clips.assert_one_clean_video(clip_id)
    broker = redis.Redis.from_url(redis_db_url)
    assert broker.llen("cpu") == 0 and broker.hlen("unacked") == 0
    clips.close()


def test_time_limit_not_below_visibility_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="VIVANT_BROKER_VISIBILITY_TIMEOUT_S"):
        Settings(task_time_limit_s=5, broker_visibility_timeout_s=10)
    # The hard limit is the soft one plus a grace; the pair must leave room for it.
    with pytest.raises(ValidationError):
        Settings(task_time_limit_s=3600, broker_visibility_timeout_s=3600)
    Settings(task_time_limit_s=5, broker_visibility_timeout_s=36)

    env = dict(os.environ, VIVANT_TASK_TIME_LIMIT_S="5", VIVANT_BROKER_VISIBILITY_TIMEOUT_S="10")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "VIVANT_TASK_TIME_LIMIT_S (5)" in result.stderr
        and "VIVANT_BROKER_VISIBILITY_TIMEOUT_S" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


# --- 5. the broker goes away and comes back -----------------------------------------------------------


def _sign_in(http: httpx.Client) -> dict[str, str]:
    response = http.post("/api/setup", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 201, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def _timed_upload(http: httpx.Client, headers: dict[str, str], path: Path) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.post("/api/photos", files=[("files", (path.name, path.read_bytes()))], headers=headers)
    return response, time.monotonic() - started


@pytest.mark.redis
def test_broker_stopped_and_started_every_clip_finishes(tmp_path: Path) -> None:
    with private_redis() as broker:
        settings = fault_settings(tmp_path, broker_url=broker.url, default_seconds=2.0)
        clips = Clips(settings)
        with (
            running_server(settings, "--no-worker", log=tmp_path / "serve.log") as (_, base),
            httpx.Client(base_url=base, timeout=30) as http,
            running_worker(settings) as worker,
        ):
            headers = _sign_in(http)
            # 1. One clip rendering, more waiting behind it in the broker than the worker reserves.
            first = _timed_upload(http, headers, PUG)[0].json()[0]["clip_id"]
            clips.wait_running(first, past=0.0)
            waiting = [_timed_upload(http, headers, path)[0].json()[0]["clip_id"] for path in SMALL]
            for clip_id in waiting:
                wait_for(lambda c=clip_id: clips.get(c).sent_at, timeout=10, what="the clips to be sent")
            # 2. The broker goes away, taking the waiting messages with it (no persistence).
            broker.stop()
            late = []
            for path in LATE:
                response, seconds = _timed_upload(http, headers, path)
                assert response.status_code in (201, 503), response.text
                assert seconds < 8, f"an upload took {seconds:.1f} s while the broker was down"
                if response.status_code == 201:
                    late.append(response.json()[0]["clip_id"])
            assert http.get("/api/photos").status_code == 200
            # 3. The broker comes back, empty; the database still knows what is owed.
            broker.start()
            for clip_id in [first, *waiting, *late]:
                clip = clips.wait_final(clip_id, timeout=180)
                assert clip.status == "ready", (clip_id, clip.error)
            assert worker.poll() is None
        assert clips.count() == 1 + len(waiting) + len(late)
        assert len(list(settings.media_dir.rglob("*.mp4"))) == clips.count()
        assert not [p for p in settings.media_dir.rglob("*") if p.name.endswith(".tmp")]
        clips.close()


# --- 6. poison and hung clips -------------------------------------------------------------------------


def test_poison_and_hung_clips_fail_with_reasons_and_others_flow(tmp_path: Path) -> None:
    settings = fault_settings(tmp_path, auto_animate=False, clip_long_side=1280)
    clips = Clips(settings)
    store = MediaStore(settings.media_dir)
    # Soft time limit 5 s; the broker's visibility stays far above it, as the startup check demands.
    with running_worker(settings, VIVANT_TASK_TIME_LIMIT_S="5") as worker, _client(settings) as client:
        csrf = set_up_admin(client)
        headers = {"X-CSRF-Token": csrf}
        photos = {
            p.name: item["id"]
            for p, item in zip([PUG, *SMALL], upload(client, csrf, PUG, *SMALL).json(), strict=True)
        }
        dispatcher = client.app.state.services.dispatcher

        # 1. Settings no engine accepts (a row written by an older version, or by hand).
        with clips.database.session() as session:
            photo = session.get(Photo, photos["dog.png"])
            assert photo is not None
            bad = create_clip(session=session, photo=photo, request=ClipRequest(), settings=settings)
            bad.settings = bad.settings | {"fps": 999}
            bad_settings = bad.id
        assert dispatcher.send(bad_settings, "parallax")
        # 2. The photo's working copy vanished from the disk.
        store.display(photos["einstein.jpg"]).unlink()
        missing = client.post(f"/api/photos/{photos['einstein.jpg']}/clips", json={}, headers=headers).json()[
            "id"
        ]
        # 3. A render far longer than the time limit: 900 frames at 1280x960, 10 s or more of work on
        # a fast machine (longer than the API lets anyone ask for, so the row is written directly).
        with clips.database.session() as session:
            photo = session.get(Photo, photos["pug.heic"])
            assert photo is not None
            hung = create_clip(session=session, photo=photo, request=ClipRequest(), settings=settings)
            hung.settings = hung.settings | {"seconds": 30, "fps": 30}
            hung_id = hung.id
        assert dispatcher.send(hung_id, "parallax")
        # 4. An ordinary clip queued behind all of them.
        good = client.post(f"/api/photos/{photos['hopper.jpg']}/clips", json={"seconds": 1}, headers=headers)
        good_id = good.json()["id"]

        results = {c: clips.wait_final(c, timeout=150) for c in (bad_settings, missing, hung_id, good_id)}
        assert worker.poll() is None
    assert results[good_id].status == "ready", results[good_id].error
    assert results[bad_settings].status == "failed"
    assert "fps must be between 6 and 60, not 999" in (results[bad_settings].error or "")
    assert results[missing].status == "failed"
    # A reason a member can act on, which shows nothing of the server's disk.
    assert "upload it again" in (results[missing].error or "")
    assert str(settings.media_dir) not in (results[missing].error or "")
    assert results[hung_id].status == "failed"
    assert "longer than 5 s" in (results[hung_id].error or "")
    assert "VIVANT_TASK_TIME_LIMIT_S" in (results[hung_id].error or "")
    # Each poison was tried once: an expected failure is final, not retried.
    assert {results[c].attempts for c in (bad_settings, missing, hung_id)} == {1}
    assert sorted(settings.media_dir.rglob("*.mp4")) == [store.video(good_id)]
    assert not [p for p in settings.media_dir.rglob("*") if p.name.endswith(".tmp")]
    clips.close()


# --- 7. SIGTERM ---------------------------------------------------------------------------------------


def test_sigterm_of_a_worker_finishes_its_clip_and_exits_cleanly(tmp_path: Path) -> None:
    settings = fault_settings(tmp_path)
    clips = Clips(settings)
    with running_worker(settings) as worker, _client(settings) as client:
        clip_id = upload(client, set_up_admin(client), PUG).json()[0]["clip_id"]
        clips.wait_running(clip_id, past=0.05)
        worker.send_signal(signal.SIGTERM)
        # Celery's warm shutdown: the clip in hand is finished, then the worker exits.
        code = worker.wait(90)
    assert code == 0
    clip = clips.get(clip_id)
    assert clip.status == "ready", clip.error
    clips.assert_one_clean_video(clip_id)
    clips.close()


def test_sigterm_of_serve_stops_its_worker_and_a_restart_finishes_every_clip(tmp_path: Path) -> None:
    settings = fault_settings(tmp_path)
    clips = Clips(settings)
    with running_server(settings, log=tmp_path / "serve.log") as (serve, base):
        with httpx.Client(base_url=base, timeout=30) as http:
            headers = _sign_in(http)
            ids = [_timed_upload(http, headers, p)[0].json()[0]["clip_id"] for p in (PUG, *SMALL)]
        # Clips render in upload order; the earlier ones may be done by the time the uploads are.
        clips.wait_any_running(ids, past=0.05)
        worker_pids = children(serve.pid)
        assert worker_pids
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(60)
        assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
        # The supervised worker went down with it: no orphan keeps rendering.
        wait_for(
            lambda: not any(process_alive(p) for p in worker_pids), timeout=10, what="the worker to exit"
        )
    statuses = clips.statuses()
    assert set(statuses.values()) <= {"queued", "running", "ready"}
    with running_server(settings, log=tmp_path / "serve2.log"):
        for clip_id in ids:
            clip = clips.wait_final(clip_id, timeout=180)
            assert clip.status == "ready", (clip_id, clip.error)
    assert not any(status == "running" for status in clips.statuses().values())
    assert len(list(settings.media_dir.rglob("*.mp4"))) == len(ids)
    clips.close()
