"""A full disk: the media folder on a real 8 MB filesystem (tmpfs) that the tests fill.

Below the reserve (VIVANT_MIN_FREE_MB) uploads are refused with 507 and renders fail with the reason; with
no reserve the writes meet ENOSPC for real. Either way nothing half-written stays: no temporary file, no
row without its files, no file without its row.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.diskspace import MB, free_bytes
from app.main import create_app
from app.models import Clip, Photo
from app.storage import MediaStore
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES
from worker.tasks import ClipRun

SMALL_DISK_MB = 8

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(settings: Settings) -> Iterator[Settings]:
    """The settings, with their media folder on a tmpfs of SMALL_DISK_MB."""
    media = settings.media_dir
    media.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_MB}m", "tmpfs", str(media)], check=True)
    try:
        yield settings
    finally:
        subprocess.run(["umount", str(media)], check=True)


def fill_until_free(media: Path, free: int) -> None:
    """Leave about `free` bytes free on the media folder's filesystem."""
    with open(media / "filler", "ab") as filler:
        filler.write(b"\0" * max(0, free_bytes(media) - free))


def stored_files(settings: Settings) -> list[Path]:
    """Every file under the media folder but the filler."""
    return sorted(p for p in settings.media_dir.rglob("*") if p.is_file() and p.name != "filler")


def count(settings: Settings, model: type) -> int:
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        database.dispose()


def padded_photo(tmp_path: Path, size: int) -> Path:
    """A valid JPEG of `size` bytes: a real photo with zeros after its end (readers stop at the end)."""
    data = (FIXTURES / "photos" / "hopper.jpg").read_bytes()
    path = tmp_path / "padded.jpg"
    path.write_bytes(data + b"\0" * (size - len(data)))
    return path


def test_upload_below_the_reserve_is_507_and_nothing_is_stored(small_disk: Settings) -> None:
    settings = small_disk.model_copy(update={"min_free_mb": 4})
    fill_until_free(settings.media_dir, 3 * MB)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        response = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg")
    assert response.status_code == 507
    detail = response.json()["detail"]
    assert "disk is nearly full" in detail and "VIVANT_MIN_FREE_MB" in detail and "keeps 4 MB" in detail
    assert count(settings, Photo) == 0 and count(settings, Clip) == 0
    assert stored_files(settings) == []


def test_upload_that_would_cross_the_reserve_is_507(small_disk: Settings, tmp_path: Path) -> None:
    # 7 MB free, 2 MB kept: a photo of 6 MB would leave too little.
    settings = small_disk.model_copy(update={"min_free_mb": 2})
    fill_until_free(settings.media_dir, 7 * MB)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        refused = upload(client, csrf, padded_photo(tmp_path, 6 * MB))
        accepted = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg")
    assert refused.status_code == 507, refused.text
    assert accepted.status_code == 201, accepted.text
    assert count(settings, Photo) == 1
    assert len(stored_files(settings)) == 3  # the small photo's original, display copy and thumbnail


def chunked_upload(client: TestClient, csrf: str, path: Path) -> httpx.Response:
    """An upload without Content-Length (as a browser streaming a file may send it), so the server cannot
    refuse it from the declared size and has to write it until the disk is full."""
    boundary = "vivantdiskfull"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    data = path.read_bytes()
    pieces = [head] + [data[i : i + 65536] for i in range(0, len(data), 65536)]
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    return client.post(
        "/api/photos",
        content=iter(pieces),
        headers={"X-CSRF-Token": csrf, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def test_a_disk_that_fills_during_the_upload_leaves_nothing(small_disk: Settings, tmp_path: Path) -> None:
    # No reserve, and no declared size: the upload itself meets ENOSPC halfway through writing the photo.
    settings = small_disk.model_copy(update={"min_free_mb": 0})
    fill_until_free(settings.media_dir, 2 * MB)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        response = chunked_upload(client, csrf, padded_photo(tmp_path, 3 * MB))
        assert response.status_code == 507, response.text
        assert "VIVANT_MIN_FREE_MB" in response.json()["detail"]
        assert count(settings, Photo) == 0 and stored_files(settings) == []
        # Once there is room again, the same upload goes through whole.
        (settings.media_dir / "filler").unlink()
        again = chunked_upload(client, csrf, padded_photo(tmp_path, 3 * MB))
    assert again.status_code == 201, again.text
    assert count(settings, Photo) == 1
    original = MediaStore(settings.media_dir).original(again.json()[0]["id"], "jpeg")
    assert original.stat().st_size == 3 * MB


def _queued_clip(settings: Settings) -> str:
    """Upload a photo (with room to spare) and return its queued clip's id."""
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        response = upload(client, csrf, FIXTURES / "photos" / "einstein.jpg")
    assert response.status_code == 201, response.text
    return str(response.json()[0]["clip_id"])


def _render(settings: Settings, clip_id: str) -> tuple[str, Clip]:
    database = Database(settings.sqlalchemy_url)
    try:
        outcome = ClipRun(database, settings, clip_id).run(MediaStore(settings.media_dir))
        with database.session() as session:
            clip = session.get(Clip, clip_id)
            assert clip is not None
        return outcome, clip
    finally:
        database.dispose()


def _clip_files(settings: Settings, clip_id: str) -> list[Path]:
    return sorted(settings.media_dir.rglob(f"*{clip_id}*"))


def test_a_render_below_the_reserve_fails_with_the_reason(small_disk: Settings) -> None:
    settings = small_disk.model_copy(update={"min_free_mb": 0, "default_seconds": 1.0, "clip_long_side": 256})
    clip_id = _queued_clip(settings)
    fill_until_free(settings.media_dir, 2 * MB)
    outcome, clip = _render(settings.model_copy(update={"min_free_mb": 3}), clip_id)
    assert outcome == "failed" and clip.status == "failed"
    assert (
        clip.error is not None and "disk is nearly full" in clip.error and "VIVANT_MIN_FREE_MB" in clip.error
    )
    assert _clip_files(settings, clip_id) == []


def test_a_render_that_fills_the_disk_fails_and_leaves_no_partial_files(small_disk: Settings) -> None:
    # No reserve, and less room than the clip needs: the encoder meets ENOSPC mid-write.
    settings = small_disk.model_copy(
        update={"min_free_mb": 0, "default_seconds": 4.0, "clip_long_side": 1280}
    )
    clip_id = _queued_clip(settings)
    fill_until_free(settings.media_dir, 64 * 1024)
    outcome, clip = _render(settings, clip_id)
    assert outcome == "failed" and clip.status == "failed"
    assert clip.error is not None and "disk is nearly full" in clip.error
    assert _clip_files(settings, clip_id) == []
    assert not list(settings.media_dir.rglob("*.tmp"))
    # With room again, the same clip renders whole (a failed clip is sent again by asking for it anew).
    (settings.media_dir / "filler").unlink()
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        session.execute(Clip.__table__.update().where(Clip.id == clip_id).values(status="queued", attempts=0))
    database.dispose()
    outcome, clip = _render(settings, clip_id)
    assert outcome == "ready" and clip.status == "ready"
    assert len(_clip_files(settings, clip_id)) == 2
