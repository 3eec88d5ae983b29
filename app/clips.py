"""Asking for clips and describing them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Clip, Photo
from app.schemas import ClipOut, ClipRequest


def clip_settings(request: ClipRequest, settings: Settings) -> dict[str, Any]:
    """The full motion settings of a new clip: what was asked, defaults for the rest."""
    return {
        "strength": request.strength or settings.default_strength,
        "camera": request.camera or "auto",
        "seconds": request.seconds or settings.default_seconds,
        "fps": request.fps or settings.default_fps,
        "loop": bool(request.loop),
        "seed": request.seed if request.seed is not None else secrets.randbelow(2**31),
        "preset": request.preset,
        "long_side": settings.clip_long_side,
    }


def create_clip(*, session: Session, photo: Photo, request: ClipRequest, settings: Settings) -> Clip:
    clip = Clip(
        photo_id=photo.id,
        engine=request.engine or settings.default_engine,
        settings=clip_settings(request, settings),
        status="queued",
        progress=0.0,
    )
    session.add(clip)
    session.flush()
    return clip


def take_back(clip: Clip, *, max_attempts: int, now: datetime) -> None:
    """A running clip whose worker died: queued to be sent again, or failed for good after max_attempts."""
    clip.claim_token = None
    if clip.attempts >= max_attempts:
        clip.status = "failed"
        clip.error = f"the worker stopped {clip.attempts} times while making this clip; it was given up"
        clip.finished_at = now
    else:
        clip.status, clip.progress, clip.sent_at = "queued", 0.0, None


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
        metrics=clip.metrics,
        created_at=clip.created_at,
    )


def requeue(clip: Clip) -> None:
    """Back to the start: rendered again from scratch, with every try ahead of it (its files were lost, or
    it was being rendered when a backup was taken). Unsent, so the reconciler sends it if nobody else does."""
    clip.status, clip.progress, clip.attempts = "queued", 0.0, 0
    clip.error = clip.metrics = clip.width = clip.height = clip.claim_token = None
    clip.sent_at = clip.started_at = clip.heartbeat_at = clip.finished_at = None
