"""A small family library on a real data dir: photos uploaded through the API, clips rendered in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.cli import main
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Clip
from app.storage import MediaStore
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES
from worker.tasks import ClipRun

PHOTOS = [FIXTURES / "photos" / name for name in ("hopper.jpg", "dog.png")]


@dataclass
class Library:
    settings: Settings
    client: TestClient
    csrf: str
    store: MediaStore
    database: Database
    photos: dict[str, str]  # file name -> photo id
    clip_id: str  # the clip of dog.png, rendered

    def clip(self, clip_id: str) -> Clip:
        with self.database.session() as session:
            clip = session.get(Clip, clip_id)
            assert clip is not None
            return clip

    def render_queued(self) -> None:
        """What a worker would do, in this process: every queued clip rendered."""
        with self.database.session() as session:
            queued = list(session.scalars(select(Clip.id).where(Clip.status == "queued")))
        for clip_id in queued:
            assert ClipRun(self.database, self.settings, clip_id).run(self.store) == "ready"


def small_settings(settings: Settings) -> Settings:
    """Clips of 8 frames at 128 px, and only when asked: a library is ready in a few seconds."""
    return settings.model_copy(
        update={"clip_long_side": 128, "default_seconds": 1.0, "default_fps": 8, "auto_animate": False}
    )


@contextmanager
def small_library(settings: Settings) -> Iterator[Library]:
    settings = small_settings(settings)
    database = Database(settings.sqlalchemy_url)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        uploaded = upload(client, csrf, *PHOTOS).json()
        photos = {path.name: item["id"] for path, item in zip(PHOTOS, uploaded, strict=True)}
        asked = client.post(f"/api/photos/{photos['dog.png']}/clips", json={}, headers={"X-CSRF-Token": csrf})
        library = Library(
            settings=settings,
            client=client,
            csrf=csrf,
            store=MediaStore(settings.media_dir),
            database=database,
            photos=photos,
            clip_id=asked.json()["id"],
        )
        library.render_queued()
        try:
            yield library
        finally:
            database.dispose()


def vivant(settings: Settings, *args: str, **env: str | None) -> Result:
    """A `vivant` command run in this process, on `settings`' database and broker (env: more, or None to
    unset one)."""
    defaults: dict[str, str | None] = {
        "VIVANT_DATABASE_URL": settings.sqlalchemy_url,
        "VIVANT_BROKER_URL": settings.celery_broker_url,
        "VIVANT_SECRET_KEY": None,
    }
    return CliRunner().invoke(main, list(args), env=defaults | env)
