"""`vivant backup` and `vivant restore`: incremental copies, verified restores, refusals.

The fast tests drive the commands in this process on a small library; the slow ones back up a running
`vivant serve` while it takes uploads and renders clips, and serve what was restored.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select

from app.backup import run_backup
from app.config import Settings
from app.db import Database
from app.models import Clip, Photo
from app.storage import sha256_file
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, new_postgres_database
from tests.fixture_paths import FIXTURES
from tests.library import Library, small_library, vivant
from tests.processes import running_server
from tests.test_clip_versions import mask_png
from tests.workers import stop_process_group, wait_for
from worker.tasks import FilmRun


def backup(library: Library, dest: Path, **env: str | None) -> list[str]:
    result = vivant(
        library.settings, "backup", str(dest), "--data-dir", str(library.settings.data_dir), **env
    )
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@contextmanager
def restore_target(source: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Where a backup of `source` is restored to: a new data dir, and a new empty PostgreSQL database when
    the source runs on PostgreSQL."""
    if source.sqlalchemy_url.startswith("sqlite"):
        yield Settings(data_dir=tmp_path / "restored")
        return
    with new_postgres_database("vivant_restore") as url:
        yield Settings(data_dir=tmp_path / "restored", database_url=url)


def restore(dest: Path, target: Settings) -> tuple[int, list[str]]:
    result = vivant(
        target,
        "restore",
        str(dest),
        "--data-dir",
        str(target.data_dir),
        VIVANT_DATABASE_URL=target.database_url or None,
    )
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout.splitlines() or result.output.splitlines()


def manifest(dest: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((dest / "manifest.json").read_text())


def test_backups_copy_only_what_changed_and_restore_verified(settings: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        first = backup(library, dest, VIVANT_SECRET_KEY="from-the-environment-" + "k" * 20)
        # 2 photos x (original, display copy, thumbnail) + 1 clip x (video, poster)
        assert "media: 8 files copied" in first[1] and "0 unchanged" in first[1]
        assert any("WARNING: the secret key comes from VIVANT_SECRET_KEY" in line for line in first)
        again = backup(library, dest)
        assert "media: 0 files copied (0.0 MB), 8 unchanged and skipped, 0 removed" in again[1]

        hopper = library.photos["hopper.jpg"]
        deleted = library.client.delete(f"/api/photos/{hopper}", headers={"X-CSRF-Token": library.csrf})
        assert deleted.status_code == 204
        third = backup(library, dest)
        assert "media: 0 files copied (0.0 MB), 5 unchanged and skipped, 3 removed" in third[1]
        assert not list(dest.rglob(f"{hopper}.*"))
        assert len(list(dest.glob("database-*"))) == 1
        files = manifest(dest)["files"]
        assert len(files) == 5
        for name, entry in files.items():
            source = library.settings.media_dir / name.removeprefix("media/")
            assert sha256_file(dest / name).sha256 == sha256_file(source).sha256 == entry["sha256"]

        with restore_target(library.settings, tmp_path) as target:
            code, lines = restore(dest, target)
            assert code == 0, lines
            assert lines[0].startswith("restored 1 accounts, 1 photos, 1 clips and 0 share links")
            assert "media: 5 files copied and verified" in lines[1]
            for name, entry in files.items():
                assert sha256_file(target.media_dir / name.removeprefix("media/")).sha256 == entry["sha256"]
            database = Database(target.sqlalchemy_url)
            with database.session() as session:
                (photo,) = session.scalars(select(Photo))
                (clip,) = session.scalars(select(Clip))
                assert photo.id == library.photos["dog.png"] and (clip.id, clip.status) == (
                    library.clip_id,
                    "ready",
                )
            database.dispose()
            assert vivant(target, "check", "--data-dir", str(target.data_dir)).exit_code == 0


def test_restore_refuses_a_data_dir_or_database_that_is_not_empty(settings: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        backup(library, dest)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    code, lines = restore(dest, Settings(data_dir=occupied, database_url=settings.database_url))
    assert code == 1
    assert f"{occupied} is not empty (it holds notes.txt); a restore never overwrites" in "\n".join(lines)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    if settings.database_url:  # PostgreSQL: the source database has tables
        fresh_dir = tmp_path / "fresh"
        code, lines = restore(dest, Settings(data_dir=fresh_dir, database_url=settings.database_url))
        assert code == 1
        assert "already has tables" in "\n".join(lines) and "restore into an empty one" in "\n".join(lines)
        assert not fresh_dir.exists() or not any(fresh_dir.iterdir())


def test_a_damaged_file_in_the_backup_is_not_restored_and_its_clip_is_rendered_again(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        backup(library, dest)
        clip_id = library.clip_id
    video = next(dest.rglob(f"{clip_id}.mp4"))
    video.write_bytes(video.read_bytes()[:-10] + b"0123456789")
    with restore_target(library.settings, tmp_path) as target:
        code, lines = restore(dest, target)
        assert code == 1
        text = "\n".join(lines)
        assert f"NOT RESTORED: media/clips/{clip_id[:2]}/{clip_id}.mp4: its bytes do not match" in text
        assert "1 clips will be rendered again when Vivant starts" in text
        assert not (target.media_dir / "clips" / clip_id[:2] / f"{clip_id}.mp4").exists()
        database = Database(target.sqlalchemy_url)
        with database.session() as session:
            clip = session.get(Clip, clip_id)
            assert clip is not None and (clip.status, clip.sent_at) == ("queued", None)
        database.dispose()


def test_a_damaged_database_copy_is_refused_and_nothing_is_left(settings: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        backup(library, dest)
    (dump,) = dest.glob("database-*")
    dump.write_bytes(dump.read_bytes() + b"\0")
    with restore_target(library.settings, tmp_path) as target:
        code, lines = restore(dest, target)
        assert code == 1
        assert f"{dump} does not match its sha256 in the manifest: the backup is damaged" in "\n".join(lines)
        assert not any(target.data_dir.iterdir())
        if target.database_url:
            engine = create_engine(target.sqlalchemy_url)
            assert not inspect(engine).get_table_names()
            engine.dispose()


def test_backup_refuses_a_folder_that_holds_something_else(settings: Settings, tmp_path: Path) -> None:
    elsewhere = tmp_path / "documents"
    elsewhere.mkdir()
    (elsewhere / "taxes.pdf").write_bytes(b"%PDF")
    result = vivant(settings, "backup", str(elsewhere), "--data-dir", str(settings.data_dir))
    assert result.exit_code == 1
    assert "is not empty and holds no Vivant backup" in result.output
    assert [p.name for p in elsewhere.iterdir()] == ["taxes.pdf"]


@pytest.mark.parametrize("missing", ["pg_dump", "pg_restore"])
def test_a_missing_postgres_tool_is_named(missing: str, tmp_path: Path, postgres_url: str) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with python but without the PostgreSQL client tools
    bin_dir.mkdir()
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    args = (
        ["backup", str(tmp_path / "b")] if missing == "pg_dump" else ["restore", str(tmp_path), "--data-dir"]
    )
    if missing == "pg_restore":
        (tmp_path / "manifest.json").write_text(
            json.dumps(
                {
                    "created_at": "2026-01-01T00:00:00Z",
                    "database": {"kind": "postgresql", "file": "d.pgdump", "sha256": "0", "size": 0},
                    "secret_key": None,
                    "files": {},
                    "counts": {},
                }
            )
        )
        args.append(str(tmp_path / "new"))
    else:
        args += ["--data-dir", str(settings.data_dir)]
    result = vivant(settings, *args, PATH=str(bin_dir))
    assert result.exit_code == 1
    assert f"{missing} is not installed" in result.output and "postgresql-client" in result.output


def test_a_photo_deleted_between_snapshot_and_copy_makes_a_new_snapshot(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    said: list[str] = []
    with small_library(settings) as library:
        hopper = library.photos["hopper.jpg"]

        def progress(_label: str) -> Callable[[float], None]:
            # Called once a snapshot is taken and before its files are copied: the moment to delete.
            if len(said) == 1:  # the first snapshot only
                deleted = library.client.delete(
                    f"/api/photos/{hopper}", headers={"X-CSRF-Token": library.csrf}
                )
                assert deleted.status_code == 204
            return lambda _fraction: None

        report = run_backup(library.settings, dest, say=said.append, progress=progress)
    assert any(
        "3 files went away while copying (deleted meanwhile); taking the snapshot again" in s for s in said
    )
    assert report.manifest.counts["photos"] == 1 and report.manifest.missing == []
    assert not list(dest.rglob(f"{hopper}.*"))
    assert len(list(dest.glob("database-*"))) == 1


def test_files_missing_from_the_data_dir_are_named_and_their_clip_restored_as_queued(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        library.store.video(library.clip_id).unlink()
        result = vivant(library.settings, "backup", str(dest), "--data-dir", str(library.settings.data_dir))
    assert result.exit_code == 1
    assert "WARNING: 1 files the database refers to are missing from the media folder" in result.stdout
    assert manifest(dest)["missing"] == [f"media/clips/{library.clip_id[:2]}/{library.clip_id}.mp4"]
    with restore_target(library.settings, tmp_path) as target:
        code, lines = restore(dest, target)
        assert code == 0, lines
        assert "1 clips will be rendered again when Vivant starts" in lines


# --- a running Vivant, backed up while it works --------------------------------------------------------

FIRST = [FIXTURES / "photos" / name for name in ("hopper.jpg", "einstein.jpg")]
BUSY = [FIXTURES / "photos" / name for name in ("pug.heic", "dog.png", "child_reading_painting.jpg")]
DURING = FIXTURES / "photos" / "seated_lady_painting.jpg"
AFTER = FIXTURES / "photos" / "xiaomi.heic"
MEMBER = ("grandpa@example.com", "another long password")


def live_settings(data_dir: Path, database_url: str = "") -> Settings:
    """Settings of a data dir whose secret is generated into it, as a family's Vivant runs."""
    return Settings(
        data_dir=data_dir, database_url=database_url, clip_long_side=320, default_seconds=6.0,
        reconcile_interval_s=1.0, stale_after_s=6,
    )  # fmt: skip


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`vivant ...` in a process of its own, with no VIVANT_SECRET_KEY: the data dir's secret is used."""
    env = dict(os.environ, VIVANT_DATABASE_URL=settings.database_url, OMP_NUM_THREADS="1")
    env.pop("VIVANT_SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def post_photo(http: httpx.Client, path: Path) -> dict:  # type: ignore[type-arg]
    response = http.post("/api/photos", files=[("files", (path.name, path.read_bytes()))])
    assert response.status_code == 201, response.text
    return response.json()[0]


def clip_status(http: httpx.Client, clip_id: str) -> str:
    return str(http.get(f"/api/clips/{clip_id}").json()["status"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_backup_taken_while_vivant_works_restores_whole(kind: str, tmp_path: Path) -> None:
    with ExitStack() as stack:

        def new_database() -> str:
            return stack.enter_context(new_postgres_database("vivant_live")) if kind == "postgresql" else ""

        source = live_settings(tmp_path / "source", new_database())
        dest = tmp_path / "backup"

        # 1. A family at work: accounts, photos, clips, share links; more uploads and renders under way.
        serve, base = stack.enter_context(
            running_server(source, log=tmp_path / "source.log", VIVANT_SECRET_KEY="")
        )
        http = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        setup = http.post("/api/setup", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        http.headers["X-CSRF-Token"] = setup.json()["csrf_token"]
        member = http.post("/api/users", json={"email": MEMBER[0], "password": MEMBER[1]})
        assert member.status_code == 201, member.text
        first = [post_photo(http, path) for path in FIRST]
        for item in first:
            wait_for(
                lambda c=item["clip_id"]: clip_status(http, c) == "ready", timeout=120, what="first clips"
            )
        shares = [http.post(f"/api/clips/{item['clip_id']}/shares", json={}).json()["url"] for item in first]
        busy = [post_photo(http, BUSY[0])]
        # A long clip (300 frames), with more queued behind it: while it renders, so much is unfinished
        # that even a fast machine cannot finish it all before the backup's snapshot.
        long_clip = http.post(f"/api/photos/{busy[0]['id']}/clips", json={"seconds": 10, "fps": 30}).json()[
            "id"
        ]
        busy += [post_photo(http, path) for path in BUSY[1:]]
        wait_for(
            lambda: clip_status(http, long_clip) == "running", timeout=120, what="the long clip to render"
        )
        uploads = ThreadPoolExecutor(1)
        during = uploads.submit(post_photo, http, DURING)
        started = time.monotonic()
        taken = cli(source, "backup", str(dest), "--data-dir", str(source.data_dir))
        backup_seconds = time.monotonic() - started
        assert taken.returncode == 0, taken.stderr
        during.result(timeout=120)
        uploads.shutdown()
        post_photo(http, AFTER)  # new files for the next backup to copy
        snapshot = manifest(dest)
        # The backup caught clips unfinished: they are the ones a restore renders again.
        assert snapshot["counts"]["clips_to_render"] >= 1, snapshot["counts"]
        assert snapshot["counts"]["accounts"] == 2 and snapshot["counts"]["share_links"] == 2
        assert (
            snapshot["secret_key"] is not None and (dest / "secret_key").read_text() == source.session_secret
        )
        stop_process_group(serve)
        source_cookies = httpx.Cookies(http.cookies)

        # 2. Restored into a new data dir (and a new, empty database), then served.
        target = live_settings(tmp_path / "restored", new_database())
        restored = cli(target, "restore", str(dest), "--data-dir", str(target.data_dir))
        assert restored.returncode == 0, restored.stderr + restored.stdout
        assert "clips will be rendered again when Vivant starts" in restored.stdout
        for name, entry in snapshot["files"].items():
            relative = name.removeprefix("media/")
            assert sha256_file(target.media_dir / relative).sha256 == entry["sha256"], name
            assert sha256_file(source.media_dir / relative).sha256 == entry["sha256"], name
        database = Database(target.sqlalchemy_url)
        with database.session() as session:
            photos = list(session.scalars(select(Photo)))
            clip_ids = list(session.scalars(select(Clip.id)))
            for photo in photos:
                original = target.media_dir / "originals" / photo.id[:2]
                assert sha256_file(next(original.glob(f"{photo.id}.*"))).sha256 == photo.sha256
        database.dispose()
        assert {p["id"] for p in first + busy} <= {photo.id for photo in photos}
        assert len(photos) == snapshot["counts"]["photos"]

        _, restored_base = stack.enter_context(
            running_server(target, log=tmp_path / "restored.log", VIVANT_SECRET_KEY="")
        )
        fresh = stack.enter_context(httpx.Client(base_url=restored_base, timeout=60))
        for email, password in ((ADMIN_EMAIL, ADMIN_PASSWORD), MEMBER):
            signed_in = fresh.post("/api/auth/login", json={"email": email, "password": password})
            assert signed_in.status_code == 200, (email, signed_in.text)
        # A session from before the backup is still signed in: same sessions, same secret.
        old = stack.enter_context(httpx.Client(base_url=restored_base, cookies=source_cookies, timeout=60))
        assert old.get("/api/me").json()["email"] == ADMIN_EMAIL
        for url, item in zip(shares, first, strict=True):
            path = httpx.URL(url).path
            assert fresh.get(path).status_code == 200
            video = fresh.get(f"{path}/video")
            assert video.status_code == 200
            source_video = source.media_dir / "clips" / item["clip_id"][:2] / f"{item['clip_id']}.mp4"
            assert video.content == source_video.read_bytes()
        # Clips caught rendering are rendered again by the restored Vivant.
        for clip_id in clip_ids:
            wait_for(lambda c=clip_id: clip_status(fresh, c) == "ready", timeout=240, what=f"clip {clip_id}")
        checked = cli(target, "check", "--data-dir", str(target.data_dir))
        assert checked.returncode == 0, checked.stdout

        # 3. Backups again into the same folder copy only what changed since.
        second = cli(source, "backup", str(dest), "--data-dir", str(source.data_dir))
        third = cli(source, "backup", str(dest), "--data-dir", str(source.data_dir))
    copied, skipped = (
        int(n) for n in re.search(r"media: (\d+) files copied .*, (\d+) unchanged", second.stdout).groups()
    )  # type: ignore[union-attr]
    assert copied >= 3 and skipped >= len(snapshot["files"])
    assert f"media: 0 files copied (0.0 MB), {copied + skipped} unchanged and skipped" in third.stdout
    print(
        f"\n{kind}: backup while working {backup_seconds:.1f} s, {snapshot['counts']}\n"
        f"{second.stdout}{third.stdout}"
    )


def test_films_and_keep_still_masks_are_backed_up_restored_and_checked(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    with small_library(settings) as library:
        headers = {"X-CSRF-Token": library.csrf}
        dog = library.photos["dog.png"]
        size = library.client.get(f"/api/photos/{dog}").json()
        mask = mask_png(size["width"], size["height"], (0, 0, size["width"] // 3, size["height"] // 3))
        asked = library.client.post(f"/api/photos/{dog}/clips", json={"keep_still": mask}, headers=headers)
        assert asked.status_code == 202, asked.text
        masked_clip = asked.json()["id"]
        library.render_queued()
        album = library.client.post("/api/albums", json={"title": "Dogs"}, headers=headers).json()
        added = library.client.post(
            f"/api/albums/{album['id']}/photos", json={"photo_ids": [dog]}, headers=headers
        )
        assert added.is_success
        film_id = library.client.post(f"/api/albums/{album['id']}/film", headers=headers).json()["id"]
        assert FilmRun(library.database, library.settings, film_id).run(library.store) == "ready"
        film_file, mask_file = library.store.film(film_id), library.store.keep_still_mask(masked_clip)

        backup(library, dest)
        files = manifest(dest)["files"]
        for path in (film_file, mask_file):
            name = f"media/{path.relative_to(library.settings.media_dir).as_posix()}"
            assert files[name]["sha256"] == sha256_file(path).sha256

        with restore_target(library.settings, tmp_path) as target:
            code, lines = restore(dest, target)
            assert code == 0, lines
            for path in (film_file, mask_file):
                restored = target.media_dir / path.relative_to(library.settings.media_dir)
                assert sha256_file(restored).sha256 == sha256_file(path).sha256
            assert vivant(target, "check", "--data-dir", str(target.data_dir)).exit_code == 0

        # Lost from the media folder: both are named; --repair marks the film lost and leaves the mask.
        film_file.unlink()
        mask_file.unlink()
        checked = vivant(library.settings, "check", "--data-dir", str(library.settings.data_dir), "--repair")
        assert checked.exit_code == 1, checked.output
        assert "Dogs" in checked.stdout and "its film is missing" in checked.stdout
        assert (
            f"clip {masked_clip[:8]}" in checked.stdout and "its keep-still mask is missing" in checked.stdout
        )
        assert "marked as lost" in checked.stdout and "1 problems remain" in checked.stdout
        film = library.client.get(f"/api/films/{film_id}").json()
        assert film["status"] == "failed" and "export the album's film again" in film["error"]
