"""The timeline of a large library: the first page and a deep page of `GET /api/photos`, on SQLite and
PostgreSQL, with one client and with many at once.

`python -m bench.timeline [--photos 10000] [--clients 1 20] [--requests 200] [--postgres ADMIN_URL]`
fills a fresh database with N photos (dates taken spread over twenty years, one ready clip each), starts a
real `vivant serve --no-worker` on it, signs in, and times requests on loopback. The deep page is the one
that starts 90 % of the way down the timeline, reached by walking the cursors as a browser would.
Prints one table: p50 and p95 latency and requests per second for each database, page and client count.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, insert

from app.auth import hash_password
from app.config import Settings
from app.migrate import upgrade
from app.models import Clip, Photo, User, new_id
from tests.processes import free_port
from tests.workers import stop_process_group, wait_for

EMAIL, PASSWORD = "bench@example.com", "a long bench password"


def fill(url: str, photos: int) -> None:
    """N photos with dates taken spread over twenty years, each with one ready clip, in bulk."""
    rng = random.Random(7)
    start = datetime(2006, 1, 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": new_id(), "email": EMAIL, "password_hash": hash_password(PASSWORD),
                                      "is_admin": True}])  # fmt: skip
        for offset in range(0, photos, 2000):
            rows, clips = [], []
            for _ in range(min(2000, photos - offset)):
                photo_id = new_id()
                rows.append(
                    {
                        "id": photo_id,
                        "sha256": secrets.token_hex(32),
                        "original_name": "photo.jpg",
                        "format": "jpeg",
                        "width": 4032,
                        "height": 3024,
                        "size_bytes": 3_000_000,
                        "created_at": datetime.now(UTC),
                        "taken_at": start + timedelta(seconds=rng.randrange(20 * 365 * 86400)),
                        "taken_at_source": "exif",
                    }
                )
                clips.append({"id": new_id(), "photo_id": photo_id, "status": "ready", "engine": "parallax",
                              "settings": {}, "progress": 1.0})  # fmt: skip
            conn.execute(insert(Photo), rows)
            conn.execute(insert(Clip), clips)
    engine.dispose()


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, VIVANT_DATABASE_URL=settings.sqlalchemy_url, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port),
         "--data-dir", str(settings.data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, what="vivant serve")
        yield base
    finally:
        stop_process_group(process)


def deep_cursor(client: httpx.Client, photos: int) -> str:
    """The cursor about 90 % of the way down, walked page by page as a browser would."""
    cursor, seen, params = None, 0, {"limit": str(max(1, min(200, photos // 20)))}
    while seen < 0.9 * photos:
        page = client.get("/api/photos", params=params | ({"cursor": cursor} if cursor else {})).json()
        if page["next_cursor"] is None:
            break
        seen += len(page["items"])
        cursor = page["next_cursor"]
    assert cursor is not None, "too few photos for a deep page"
    return str(cursor)


def timed(
    base: str, cookies: httpx.Cookies, params: dict[str, str], clients: int, requests: int
) -> list[float]:
    def one_client(count: int) -> list[float]:
        took = []
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            for _ in range(count):
                begun = time.perf_counter()
                response = client.get("/api/photos", params=params)
                took.append(time.perf_counter() - begun)
                assert response.status_code == 200, response.text
        return took

    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        return [t for part in pool.map(one_client, share) for t in part]


def bench_database(name: str, settings: Settings, args: argparse.Namespace) -> list[tuple[str, ...]]:
    upgrade(settings.sqlalchemy_url)
    began = time.perf_counter()
    fill(settings.sqlalchemy_url, args.photos)
    print(f"{name}: {args.photos} photos stored in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    rows = []
    with serving(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).status_code == 200
        pages = {
            "first": {"limit": "60"},
            "deep": {"limit": "60", "cursor": deep_cursor(client, args.photos)},
        }
        for page, params in pages.items():
            for clients in args.clients:
                timed(base, client.cookies, params, clients, clients * 2)  # warm the pool and the caches
                began = time.perf_counter()
                took = sorted(timed(base, client.cookies, params, clients, args.requests))
                wall = time.perf_counter() - began
                p50, p95 = statistics.median(took), took[int(0.95 * (len(took) - 1))]
                figures = (f"{p50 * 1000:.1f}", f"{p95 * 1000:.1f}", f"{len(took) / wall:.0f}")
                rows.append((name, page, str(clients), str(len(took)), *figures))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per row")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL; a database is made and dropped (empty: SQLite only)")  # fmt: skip
    args = parser.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "sqlite", secret_key="bench-" + "b" * 26)
        settings.ensure_dirs()
        rows += bench_database("SQLite", settings, args)
        if args.postgres:
            name = f"vivant_bench_{secrets.token_hex(4)}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
                pg = Settings(data_dir=Path(tmp) / "pg", database_url=url, secret_key="bench-" + "b" * 26)
                pg.ensure_dirs()
                rows += bench_database("PostgreSQL", pg, args)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    header = ("database", "page", "clients", "requests", "p50 ms", "p95 ms", "req/s")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"\n{args.photos} photos, 60 per page, one ready clip each; loopback, one `vivant serve` process.")


if __name__ == "__main__":
    main()
