"""Shared fixtures: real databases (SQLite file, PostgreSQL on 127.0.0.1:5432), real app, real broker."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from app.models import Base

POSTGRES_ADMIN_URL = os.environ.get("VIVANT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VIVANT_TEST_REDIS", "redis://127.0.0.1:6379/0")

# Tests run on two cores next to a worker process; keep torch and OpenCV from fighting over them.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def new_postgres_database(prefix: str = "vivant_test") -> Iterator[str]:
    """An empty PostgreSQL database of its own (no tables), dropped at the end; yields its URL."""
    if not service_reachable("127.0.0.1", 5432):
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (see README, Tests)")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head, dropped at the end."""
    with new_postgres_database() as url:
        upgrade(Settings(database_url=url).sqlalchemy_url)
        yield url


def _truncate_all(url: str) -> None:
    engine = create_engine(Settings(database_url=url).sqlalchemy_url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a fresh data dir, with the database the test is parametrised on, migrated."""
    database_url = ""
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
        _truncate_all(database_url)
    made = Settings(
        data_dir=tmp_path / "data", database_url=database_url, secret_key="test-secret-" + "x" * 20
    )
    made.ensure_dirs()
    if request.param == "sqlite":
        upgrade(made.sqlalchemy_url)
    return made


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, reconcile=False)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery"


def set_up_admin(client: TestClient) -> str:
    """Create the first account through the API; returns the CSRF token of its session."""
    response = client.post("/api/setup", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["csrf_token"]


@pytest.fixture
def csrf(client: TestClient) -> str:
    return set_up_admin(client)


def upload(client: TestClient, csrf_token: str, *paths: Path, names: list[str] | None = None):  # type: ignore[no-untyped-def]
    files = [
        ("files", ((names[i] if names else path.name), path.read_bytes(), "application/octet-stream"))
        for i, path in enumerate(paths)
    ]
    return client.post("/api/photos", files=files, headers={"X-CSRF-Token": csrf_token})
