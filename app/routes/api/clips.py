"""Asking for clips of a photo and following their progress."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from app.clips import clip_out, create_clip
from app.deps import CurrentUser, ServicesDep, SessionDep, clip_or_404, photo_or_404
from app.schemas import ClipOut, ClipRequest

router = APIRouter()


@router.post("/photos/{photo_id}/clips", status_code=202)
def add_clip(
    photo_id: str,
    body: ClipRequest,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
) -> ClipOut:
    """Ask for another clip of a photo; it is queued and rendered by a worker."""
    clip = create_clip(
        session=session, photo=photo_or_404(session, photo_id), request=body, settings=services.settings
    )
    session.commit()
    background.add_task(services.dispatcher.send, clip.id, clip.engine)
    return clip_out(clip)


@router.get("/clips/{clip_id}")
def get_clip(clip_id: str, user: CurrentUser, session: SessionDep) -> ClipOut:
    return clip_out(clip_or_404(session, clip_id))
