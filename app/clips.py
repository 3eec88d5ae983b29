"""Asking for clips, choosing the one to show, deleting one, and describing them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.masks import keep_still_png
from app.models import Clip, Film, Photo
from app.schemas import ClipOut, ClipRequest
from app.storage import MediaStore, write_atomic


def clip_settings(request: ClipRequest, settings: Settings) -> dict[str, Any]:
    """The full motion settings of a new clip: what was asked, defaults for the rest."""
    return {
        "strength": request.strength or settings.default_strength,
        "camera": request.camera or "auto",
        "ambient": request.ambient or "auto",
        "seconds": request.seconds or settings.default_seconds,
        "fps": request.fps or settings.default_fps,
        "loop": bool(request.loop),
        "seed": request.seed if request.seed is not None else secrets.randbelow(2**31),
        "preset": request.preset,
        "long_side": settings.clip_long_side,
        # The mask itself is a file beside the clip (MediaStore.keep_still_mask); this says to load it.
        "keep_still": bool(request.keep_still),
    }


def create_clip(
    *,
    session: Session,
    photo: Photo,
    request: ClipRequest,
    settings: Settings,
    store: MediaStore | None = None,
) -> Clip:
    """A queued clip row; with a keep-still mask in `request`, its file written to `store` too.

    Raises app.masks.MaskRejected before anything is added when the mask is refused."""
    mask = (
        keep_still_png(request.keep_still, photo_width=photo.width, photo_height=photo.height)
        if request.keep_still
        else None
    )
    if mask is not None and store is None:
        raise ValueError("a clip with a keep-still mask needs the media store to keep the mask in")
    clip = Clip(
        photo_id=photo.id,
        engine=request.engine or settings.default_engine,
        settings=clip_settings(request, settings),
        status="queued",
        progress=0.0,
    )
    session.add(clip)
    session.flush()
    if mask is not None and store is not None:
        write_atomic(store.keep_still_mask(clip.id), mask)
    return clip


def take_back(row: Clip | Film, *, max_attempts: int, now: datetime) -> None:
    """A running clip or film whose worker died: queued to be sent again, or failed for good after
    max_attempts."""
    row.claim_token = None
    if row.attempts >= max_attempts:
        what = "clip" if isinstance(row, Clip) else "film"
        row.status = "failed"
        row.error = f"the worker stopped {row.attempts} times while making this {what}; it was given up"
        row.finished_at = now
    else:
        row.status, row.progress, row.sent_at = "queued", 0.0, None


def clip_to_show(photo: Photo) -> Clip | None:
    """What the gallery, photo page and film show: the clip the family chose while it is ready, else the
    newest ready one."""
    ready = [clip for clip in photo.clips if clip.status == "ready"]
    chosen = next((clip for clip in ready if clip.id == photo.chosen_clip_id), None)
    return chosen or (ready[-1] if ready else None)


class ClipNotChoosable(ValueError):
    pass


def choose_clip(*, session: Session, photo: Photo, clip_id: str | None) -> None:
    """Show `clip_id` for this photo from now on; None goes back to the newest ready clip."""
    if clip_id is not None:
        clip = next((c for c in photo.clips if c.id == clip_id), None)
        if clip is None:
            raise ClipNotChoosable("that clip is not one of this photo's clips")
        if clip.status != "ready":
            raise ClipNotChoosable("that clip is not made yet; choose it once it is ready")
    photo.chosen_clip_id = clip_id
    session.commit()


def delete_clip(*, session: Session, store: MediaStore, clip: Clip) -> None:
    """The clip, its share links and its files. A worker rendering it notices the row is gone and stops
    (worker/tasks.py ClipRun); the photo then shows its other clips again."""
    photo = clip.photo
    if photo.chosen_clip_id == clip.id:
        photo.chosen_clip_id = None
    clip_id = clip.id
    session.delete(clip)
    session.commit()
    store.delete_clip(clip_id)


def clip_out(clip: Clip) -> ClipOut:
    ready = clip.status == "ready"
    return ClipOut(
        id=clip.id,
        photo_id=clip.photo_id,
        status=clip.status,  # type: ignore[arg-type]
        progress=1.0 if ready else round(clip.progress, 3),
        error=clip.error,
        engine=clip.engine,
        settings=clip.settings,
        width=clip.width,
        height=clip.height,
        video_url=f"/media/clips/{clip.id}.mp4" if ready else None,
        poster_url=f"/media/clips/{clip.id}.jpg" if ready else None,
        download_url=f"/media/clips/{clip.id}/download" if ready else None,
        metrics=clip.metrics,
        created_at=clip.created_at,
    )


def requeue(clip: Clip) -> None:
    """Back to the start: rendered again from scratch, with every try ahead of it (its files were lost, or
    it was being rendered when a backup was taken). Unsent, so the reconciler sends it if nobody else does."""
    clip.status, clip.progress, clip.attempts = "queued", 0.0, 0
    clip.error = clip.metrics = clip.width = clip.height = clip.claim_token = None
    clip.sent_at = clip.started_at = clip.heartbeat_at = clip.finished_at = None
