"""Consistent copies of a live database, and loading one into an empty database.

SQLite is copied with its online backup API, PostgreSQL with pg_dump. Either way the caller gets a
connection that reads the very moment the copy holds, so it can list the files that copy refers to.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from app.config import Settings
from app.errors import CommandError

DatabaseKind = Literal["sqlite", "postgresql"]
DUMP_SUFFIX: dict[DatabaseKind, str] = {"sqlite": "sqlite3", "postgresql": "pgdump"}
_PG_TOOLS_HINT = (
    "install the PostgreSQL client tools (Debian and Ubuntu: apt install postgresql-client), "
    "of the server's major version or newer"
)


def database_kind(settings: Settings) -> DatabaseKind:
    backend = make_url(settings.sqlalchemy_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise CommandError(f"backups know SQLite and PostgreSQL databases, not {backend}")
    return backend  # type: ignore[return-value]


def sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.sqlalchemy_url).database or "")


def require_database(settings: Settings) -> None:
    """Refuse a data dir without a database: SQLite would quietly make an empty one there."""
    if database_kind(settings) == "sqlite" and not sqlite_path(settings).is_file():
        raise CommandError(
            f"there is no database at {sqlite_path(settings)}: is --data-dir (VIVANT_DATA_DIR) right?"
        )


@contextmanager
def database_snapshot(settings: Settings, target: Path) -> Iterator[Connection]:
    """Write a consistent copy of the database to `target`; yield a connection reading that same moment."""
    require_database(settings)
    if database_kind(settings) == "sqlite":
        with _sqlite_snapshot(sqlite_path(settings), target) as connection:
            yield connection
    else:
        with _postgres_snapshot(settings, target) as connection:
            yield connection


@contextmanager
def _sqlite_snapshot(live: Path, target: Path) -> Iterator[Connection]:
    source = sqlite3.connect(live, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # All pages in one step, under one read transaction: a copy in several steps would start over
        # each time a worker writes its progress, and might never finish on a busy Vivant.
        source.backup(copy)
        # A self-contained file: reading it later must not leave -wal and -shm files beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def _postgres_snapshot(settings: Settings, target: Path) -> Iterator[Connection]:
    pg_dump = _tool("pg_dump", "back up")
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                # pg_dump adopts this transaction's snapshot: the dump and the file list below see the
                # same rows, however many uploads and renders commit meanwhile.
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                _run_pg_tool(
                    pg_dump, settings, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"
                )
                yield connection
    finally:
        engine.dispose()


def ensure_empty_database(settings: Settings) -> None:
    """Refuse to restore over data: a SQLite file that exists, a PostgreSQL database that has tables."""
    if database_kind(settings) == "sqlite":
        path = sqlite_path(settings)
        if path.exists():
            raise CommandError(f"{path} already exists; restore into a new, empty data dir")
        return
    _tool("pg_restore", "restore")
    engine = create_engine(settings.sqlalchemy_url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        name = make_url(settings.sqlalchemy_url).database
        raise CommandError(
            f"the database {name} (VIVANT_DATABASE_URL) already has tables "
            f"({', '.join(sorted(tables)[:5])}); restore into an empty one: createdb NEW_NAME, and point "
            "VIVANT_DATABASE_URL at it"
        )


def load_snapshot(settings: Settings, dump: Path) -> None:
    """Load a PostgreSQL dump into the configured, empty database, all or nothing.

    (A SQLite snapshot is a database file: the caller copies it into place.)"""
    pg_restore = _tool("pg_restore", "restore")
    # Owners and grants are the old server's: the restoring user owns what it creates.
    _run_pg_tool(
        pg_restore, settings, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", str(dump)
    )


def _tool(name: str, verb: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CommandError(
            f"{name} is not installed; it is needed to {verb} a PostgreSQL database: {_PG_TOOLS_HINT}"
        )
    return path


def _run_pg_tool(tool: str, settings: Settings, *args: str) -> None:
    url = make_url(settings.sqlalchemy_url)
    env = dict(os.environ)
    if url.password:
        # In the environment: on a command line every user of the machine could read it.
        env["PGPASSWORD"] = str(url.password)
    result = subprocess.run(
        [tool, f"--dbname={_libpq_url(url)}", *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = result.stderr.strip() or f"exit status {result.returncode}"
        raise CommandError(f"{Path(tool).name} failed: {reason}")


def _libpq_url(url: URL) -> str:
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
