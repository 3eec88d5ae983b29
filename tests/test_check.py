"""`vivant check [--repair]` on a real data dir: damaged originals, lost files, files without rows."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from click.testing import Result
from sqlalchemy import select

from app.config import Settings
from app.models import Photo
from tests.library import Library, small_library, vivant


def vivant_check(library: Library, *args: str) -> Result:
    return vivant(library.settings, "check", "--data-dir", str(library.settings.data_dir), *args)


def test_a_sound_library_passes(settings: Settings) -> None:
    with small_library(settings) as library:
        result = vivant_check(library)
    assert result.exit_code == 0, result.output
    assert "checked 2 photos" in result.stdout and "1 ready clips" in result.stdout
    assert "no problems found" in result.stdout


def test_a_damaged_original_is_found_and_never_deleted(settings: Settings) -> None:
    with small_library(settings) as library:
        photo_id = library.photos["hopper.jpg"]
        with library.database.session() as session:
            photo = session.scalars(select(Photo).where(Photo.id == photo_id)).one()
            original = library.store.original(photo.id, photo.format)
        damaged = bytearray(original.read_bytes())
        damaged[len(damaged) // 2] ^= 0x01  # one bit: the size stays, the photo still decodes
        original.write_bytes(bytes(damaged))

        found = vivant_check(library)
        repaired = vivant_check(library, "--repair")
    assert found.exit_code == 1
    assert "1 problems:" in found.stdout
    assert f"photo hopper.jpg ({photo_id[:8]}): its original" in found.stdout
    assert "does not match the sha256 taken at upload" in found.stdout and "from a backup" in found.stdout
    # Nothing can make an original again: --repair leaves it, and says the problem remains.
    assert repaired.exit_code == 1
    assert original.read_bytes() == bytes(damaged)


def test_a_lost_clip_video_is_found_and_repair_renders_it_again(settings: Settings) -> None:
    with small_library(settings) as library:
        clip_id = library.clip_id
        video = library.store.video(clip_id)
        video.unlink()

        found = vivant_check(library)
        assert found.exit_code == 1
        dog = library.photos["dog.png"][:8]
        assert f"clip {clip_id[:8]} of photo dog.png ({dog}): its clip video is missing" in found.stdout

        repaired = vivant_check(library, "--repair")
        assert repaired.exit_code == 0, repaired.output
        assert f"clip {clip_id[:8]} of photo dog.png" in repaired.stdout
        assert "queued to be rendered again" in repaired.stdout
        clip = library.clip(clip_id)
        # Queued, and sent through the dispatcher to the broker (sent_at is written once the broker took it).
        assert (clip.status, clip.attempts, clip.metrics) == ("queued", 0, None)
        assert clip.sent_at is not None

        library.render_queued()
        assert library.clip(clip_id).status == "ready" and video.is_file()
        assert vivant_check(library).exit_code == 0


def test_lost_display_copy_and_thumbnail_are_made_again(settings: Settings) -> None:
    with small_library(settings) as library:
        photo_id = library.photos["hopper.jpg"]
        display, thumbnail = library.store.display(photo_id), library.store.thumbnail(photo_id)
        display.unlink()
        thumbnail.unlink()
        repaired = vivant_check(library, "--repair")
        assert repaired.exit_code == 0, repaired.output
        assert "display copy and thumbnail made again" in repaired.stdout
        assert display.is_file() and thumbnail.is_file()
        assert library.client.get(f"/media/photos/{photo_id}/thumb.jpg").status_code == 200


def test_files_without_rows_are_reported_and_left(settings: Settings) -> None:
    with small_library(settings) as library:
        stray_photo, stray_clip, stray_film = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
        stray_original = library.store.original(stray_photo, "jpeg")
        stray_video = library.store.video(stray_clip)
        stray_mask = library.store.keep_still_mask(stray_clip)
        stray_film_file = library.store.film(stray_film)
        video = library.store.video(library.clip_id)
        for source, target in (
            (library.store.original(library.photos["hopper.jpg"], "jpeg"), stray_original),
            (video, stray_video),
            (library.store.thumbnail(library.photos["hopper.jpg"]), stray_mask),
            (video, stray_film_file),
        ):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)

        repaired = vivant_check(library, "--repair")
    assert repaired.exit_code == 1
    assert "4 problems:" in repaired.stdout
    for path in (stray_original, stray_video, stray_mask, stray_film_file):
        where = path.relative_to(library.settings.media_dir)
        assert f"{where}: no photo, clip or film owns this file" in repaired.stdout
        assert path.is_file()  # --repair deletes nothing


def test_a_data_dir_without_a_database_is_refused_untouched(tmp_path: Path) -> None:
    nowhere = Settings(data_dir=tmp_path / "nowhere")
    for command in ("check", "backup"):
        args = [command, str(tmp_path / "backup")] if command == "backup" else [command]
        result = vivant(nowhere, *args, "--data-dir", str(nowhere.data_dir), VIVANT_DATABASE_URL=None)
        assert result.exit_code == 1
        assert f"there is no database at {nowhere.data_dir}/vivant.db" in result.output
    assert not nowhere.data_dir.exists()
