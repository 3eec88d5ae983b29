"""Date taken: read from EXIF at upload (JPEG and HEIC), the upload time where there is none, the
timeline ordered and paged by it, and the migration that dates photos stored before it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pillow_heif
import pytest
from alembic import command
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, inspect, select, text

from app.config import Settings
from app.dates import exif_taken_at, parse_exif_datetime, parse_exif_offset
from app.migrate import alembic_config, upgrade
from app.models import Photo
from app.storage import MediaStore
from tests.conftest import upload
from tests.fixture_paths import FIXTURES
from tests.test_migrations import empty_database_url  # noqa: F401 (a fixture)

pillow_heif.register_heif_opener()


def photo_bytes(
    fmt: str, taken: str | None, offset: str | None = None, colour: tuple[int, int, int] = (180, 90, 40)
) -> bytes:
    """A small photo whose EXIF says it was taken at `taken` (EXIF's "YYYY:MM:DD HH:MM:SS")."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    if offset is not None:
        exif.get_ifd(0x8769)[0x9011] = offset
    out = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()


def send(client: TestClient, csrf: str, name: str, data: bytes) -> dict[str, object]:
    response = client.post(
        "/api/photos",
        files=[("files", (name, data, "application/octet-stream"))],
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    return client.get(f"/api/photos/{response.json()[0]['id']}").json()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019:07:14 18:30:05", datetime(2019, 7, 14, 18, 30, 5)),
        ("2019-07-14T18:30:05", datetime(2019, 7, 14, 18, 30, 5)),
        ("2021:02:30 10:00:00", None),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        (b"2019:07:14 18:30:05", None),
    ],
)
def test_exif_dates_that_make_sense_are_read(value: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "minutes"), [("+02:00", 120), ("-05:30", -330), ("+15:00", None), ("2", None)]
)
def test_exif_offsets(value: str, minutes: int | None) -> None:
    assert parse_exif_offset(value) == minutes


def test_fixture_dates_and_a_clock_never_set() -> None:
    pug = exif_taken_at(FIXTURES / "photos" / "pug.heic", "heic")
    assert pug is not None and pug.isoformat() == "2023-02-21T14:33:08+03:00"
    assert exif_taken_at(FIXTURES / "edge" / "exif_gps.jpg", "jpeg") is None  # it says 2099
    assert exif_taken_at(FIXTURES / "photos" / "dog.png", "png") is None


def test_upload_reads_date_taken_from_jpeg_and_heic(client: TestClient, csrf: str) -> None:
    jpeg = send(client, csrf, "beach.jpg", photo_bytes("JPEG", "2019:07:14 18:30:00", "+02:00"))
    assert (jpeg["taken_at"], jpeg["taken_at_source"]) == ("2019-07-14T18:30:00+02:00", "exif")
    heic = send(client, csrf, "snow.heic", photo_bytes("HEIF", "2021:01:02 08:15:00", colour=(20, 40, 200)))
    assert (heic["taken_at"], heic["taken_at_source"]) == ("2021-01-02T08:15:00", "exif")

    before = datetime.now(UTC)
    undated = send(client, csrf, "scan.png", photo_bytes("PNG", None, colour=(10, 200, 10)))
    assert undated["taken_at_source"] == "upload"
    taken = datetime.fromisoformat(str(undated["taken_at"]))
    assert before - timedelta(seconds=1) <= taken <= datetime.now(UTC)


def test_timeline_is_by_date_taken_newest_first_and_pages_survive_deletes(
    client: TestClient, csrf: str
) -> None:
    # Uploaded in an order unlike the order they were taken in.
    dates = ["2015:06:01 12:00:00", "2023:12:24 19:00:00", "2001:03:09 09:30:00", "2019:07:14 18:30:00"]
    ids = {
        date: send(client, csrf, f"{i}.jpg", photo_bytes("JPEG", date, colour=(40 * i, 60, 90)))["id"]
        for i, date in enumerate(dates)
    }
    newest_first = [ids[d] for d in sorted(dates, reverse=True)]

    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/photos", params=params).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if len(seen) == 2:  # the photo the cursor was made from goes; the cursor still leads on
            assert client.delete(f"/api/photos/{seen[-1]}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert seen == newest_first
    assert client.get("/api/photos", params={"cursor": "not-a-cursor"}).status_code == 400


def test_migration_dates_photos_stored_before_it(empty_database_url: str, tmp_path: Path) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database_url), "0001")
    store = MediaStore(tmp_path / "media")
    store.original("a" * 32, "jpeg").parent.mkdir(parents=True, exist_ok=True)
    store.original("a" * 32, "jpeg").write_bytes(photo_bytes("JPEG", "2010:05:06 07:08:09", "-04:00"))
    uploaded = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        for photo_id in ("a" * 32, "b" * 32):  # b's original is missing: it keeps its upload time
            conn.execute(
                text(
                    "INSERT INTO photos (id, sha256, original_name, format, width, height, size_bytes,"
                    " created_at) VALUES (:id, :id, '', 'jpeg', 96, 64, 1, :at)"
                ),
                {"id": photo_id, "at": uploaded},
            )
    upgrade(empty_database_url, store.root)
    columns = (Photo.id, Photo.taken_at, Photo.taken_offset_minutes, Photo.taken_at_source)
    with engine.connect() as conn:
        rows = {row[0]: tuple(row[1:]) for row in conn.execute(select(*columns))}
    engine.dispose()
    assert rows["a" * 32] == (datetime(2010, 5, 6, 7, 8, 9), -240, "exif")
    assert rows["b" * 32] == (datetime(2026, 11, 30, 22, 0), 0, "upload")


def test_the_timeline_index_exists(settings: Settings) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    indexes = {index["name"]: index["column_names"] for index in inspect(engine).get_indexes("photos")}
    engine.dispose()
    assert indexes["ix_photos_timeline"] == ["taken_at", "id"]


def test_upload_helper_still_dates_fixtures(client: TestClient, csrf: str) -> None:
    pug = upload(client, csrf, FIXTURES / "photos" / "pug.heic").json()[0]
    assert client.get(f"/api/photos/{pug['id']}").json()["taken_at_source"] == "exif"
