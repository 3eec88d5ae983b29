"""Alembic migrations on empty SQLite and PostgreSQL databases: upgrade, round trip, and no drift."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db import Database
from app.migrate import alembic_config
from app.models import Base
from tests.conftest import POSTGRES_ADMIN_URL, service_reachable

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path).sqlalchemy_url
        return
    if not service_reachable("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (see README, Tests)")
    name = f"vivant_migrations_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield Settings(database_url=POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").sqlalchemy_url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_round_trip_and_no_drift(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert _tables(empty_database_url) == set()

    command.upgrade(config, "head")
    assert _current_revision(empty_database_url) == head
    assert _tables(empty_database_url) == TABLES
    # The models and the migrations describe the same schema: a model change without a migration fails.
    assert _drift(empty_database_url) == []

    command.downgrade(config, "base")
    assert _tables(empty_database_url) == set()
    assert _current_revision(empty_database_url) is None

    command.upgrade(config, "head")
    assert _current_revision(empty_database_url) == head
    assert _drift(empty_database_url) == []


def test_every_revision_steps_down_and_up_one_at_a_time(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions("base", "heads"))[::-1]
    for revision in revisions:
        command.upgrade(config, revision.revision)
        assert _current_revision(empty_database_url) == revision.revision
    for revision in reversed(revisions):
        command.downgrade(config, "-1")
        assert _current_revision(empty_database_url) == revision.down_revision
    assert _tables(empty_database_url) == set()


def test_album_links_keep_existing_clip_links_and_allow_exactly_one_target(empty_database_url: str) -> None:
    """0007: a clip link made before it is untouched; afterwards a link names a clip or an album, not both."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0006")
    now = "2026-12-01 10:00:00+00:00"
    engine = Database(empty_database_url).engine  # as the app connects: SQLite enforces foreign keys
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, is_admin, created_at) "
                    "VALUES ('u1', 'a@example.com', 'x', true, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO photos (id, owner_id, sha256, original_name, format, width, height,"
                    " size_bytes, created_at, taken_at, taken_at_source) VALUES"
                    " ('p1', 'u1', 'h', 'a.jpg', 'jpeg', 4, 3, 10, :now, '2026-12-01 10:00:00', 'upload')"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO clips (id, photo_id, status, progress, engine, settings, attempts,"
                    " created_at) VALUES ('c1', 'p1', 'ready', 1.0, 'parallax', '{}', 1, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO shares (id, clip_id, token_hash, created_by, allow_download, password_hash,"
                    " created_at, expires_at, revoked_at, opens)"
                    " VALUES ('s1', 'c1', 'hash1', 'u1', true, 'pw', :now, NULL, NULL, 3)"
                ),
                {"now": now},
            )
            before = conn.execute(text("SELECT * FROM shares")).mappings().one()

        command.upgrade(config, "head")
        with engine.begin() as conn:
            after = dict(conn.execute(text("SELECT * FROM shares")).mappings().one())
            conn.execute(
                text("INSERT INTO albums (id, title, description, created_at) VALUES ('a1', 'T', '', :now)"),
                {"now": now},
            )
        assert after.pop("album_id") is None
        assert after == dict(before)

        insert = (
            "INSERT INTO shares (id, clip_id, album_id, token_hash, allow_download, created_at, opens)"
            " VALUES (:id, :clip, :album, :id, false, :now, 0)"
        )
        with engine.begin() as conn:
            conn.execute(text(insert), {"id": "s2", "clip": None, "album": "a1", "now": now})
        for clip, album in (("c1", "a1"), (None, None)):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(insert), {"id": "s3", "clip": clip, "album": album, "now": now})
        with engine.begin() as conn:  # the album's deletion takes its link with it
            conn.execute(text("DELETE FROM albums WHERE id = 'a1'"))
            assert conn.execute(text("SELECT id FROM shares")).scalars().all() == ["s1"]
    finally:
        engine.dispose()
