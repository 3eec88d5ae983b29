"""Which queue a clip's message lands in: the engine decides, and only that queue gets it."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import redis

from app.config import Settings
from app.db import Database
from app.dispatch import Dispatcher
from app.migrate import upgrade
from app.models import Clip, Photo
from tests.conftest import REDIS_URL
from worker.celery_app import create_celery

pytestmark = pytest.mark.redis


@pytest.mark.parametrize(
    ("engine", "queue", "other"), [("diffusers", "gpu", "cpu"), ("parallax", "cpu", "gpu")]
)
def test_a_clip_is_sent_to_its_engines_queue_only(
    tmp_path: Path, engine: str, queue: str, other: str
) -> None:
    broker_url = REDIS_URL.rsplit("/", 1)[0] + f"/{secrets.randbelow(14) + 1}"
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    settings = Settings(data_dir=tmp_path / "data", broker_url=broker_url, secret_key="dispatch-" + "z" * 24)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            photo = Photo(sha256="0" * 64, format="jpeg", width=4, height=4, size_bytes=1)
            session.add(photo)
            session.flush()
            clip = Clip(photo_id=photo.id, engine=engine, settings={})
            session.add(clip)
            session.flush()
            clip_id = clip.id
        celery = create_celery(settings)
        # Declared as the workers of both queues declare them, bindings included.
        with celery.connection_for_write() as connection:
            for declared in celery.amqp.queues.values():
                declared(connection.default_channel).declare()
        assert Dispatcher(celery, database, settings).send(clip_id, engine)
        # Kombu's Redis transport keeps each queue as a list named after it.
        assert client.llen(queue) == 1
        assert client.llen(other) == 0
    finally:
        database.dispose()
        client.flushdb()
