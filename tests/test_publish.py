"""A rendered clip and its row go together: a photo deleted around the moment its clip is published leaves
no clip file behind, whichever comes first (the worker end to end: tests/test_worker_e2e.py)."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

import numpy as np
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.images import load_photo_rgb
from app.models import Photo
from app.photos import delete_photo
from app.storage import MediaStore
from tests.conftest import upload
from tests.fixture_paths import FIXTURES
from tests.workers import wait_for
from worker.engines import get_engine
from worker.engines.base import MotionSpec
from worker.render import RenderedClip, rendered_clip
from worker.tasks import ClipRun

SPEC = MotionSpec(seconds=1.0, fps=8, strength="gentle", camera="auto", loop=False, seed=1, long_side=128)


def _claimed(client: TestClient, csrf: str) -> tuple[ClipRun, str, MediaStore]:
    services = client.app.state.services  # type: ignore[attr-defined]
    item = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]
    run = ClipRun(Database(services.settings.sqlalchemy_url), services.settings, item["clip_id"])
    assert run.claim()
    return run, item["id"], services.store


def _render(
    store: MediaStore, photo_id: str, clip_id: str, settings: Settings
) -> AbstractContextManager[RenderedClip]:
    image = load_photo_rgb(store.display(photo_id), max_pixels=settings.max_pixels)
    return rendered_clip(
        get_engine("parallax"),
        np.ascontiguousarray(image),
        SPEC,
        video_path=store.video(clip_id),
        poster_path=store.poster(clip_id),
        progress=lambda _: None,
    )


def _delete(client: TestClient, photo_id: str) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.session() as session:
        photo = session.get(Photo, photo_id)
        assert photo is not None
        delete_photo(session=session, store=services.store, photo=photo)


def test_a_clip_deleted_before_it_is_published_keeps_no_files(client: TestClient, csrf: str) -> None:
    run, photo_id, store = _claimed(client, csrf)
    with _render(store, photo_id, run.clip_id, run.settings) as rendered:
        _delete(client, photo_id)
        assert run.publish(rendered, device="cpu") is False
    assert not list(store.root.rglob(f"*{run.clip_id}*"))
    run.database.dispose()


def test_a_delete_during_publishing_waits_and_then_removes_the_files(client: TestClient, csrf: str) -> None:
    run, photo_id, store = _claimed(client, csrf)
    moving, release = threading.Event(), threading.Event()
    published: list[bool] = []

    def publish(rendered: RenderedClip) -> None:
        move = rendered.move_into_place

        def held_move() -> None:
            move()
            moving.set()
            release.wait(30)  # the row is locked and the files are in place, not yet committed

        rendered.move_into_place = held_move  # type: ignore[method-assign]
        published.append(run.publish(rendered, device="cpu"))

    with _render(store, photo_id, run.clip_id, run.settings) as rendered:
        publisher = threading.Thread(target=publish, args=(rendered,))
        publisher.start()
        wait_for(moving.is_set, timeout=30, what="the files to be moved into place")
        deleter = threading.Thread(target=_delete, args=(client, photo_id))
        deleter.start()
        deleter.join(1.0)
        assert deleter.is_alive(), "the delete did not wait for the clip being published"
        release.set()
        publisher.join(30)
        deleter.join(30)
    assert published == [True]
    assert not list(store.root.rglob(f"*{run.clip_id}*"))
    run.database.dispose()
