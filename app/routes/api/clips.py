"""Asking for clips of a photo, following their progress, choosing the one to show, deleting one."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException

from app.clips import ClipNotChoosable, choose_clip, clip_out, create_clip, delete_clip
from app.deps import CurrentUser, ServicesDep, SessionDep, clip_or_404, photo_or_404
from app.masks import MaskRejected
from app.photos import may_delete
from app.schemas import ClipChoice, ClipOut, ClipRequest, PhotoOut
from app.urls import photo_out

router = APIRouter()


@router.post("/photos/{photo_id}/clips", status_code=202, responses={422: {"description": "mask refused"}})
def add_clip(
    photo_id: str,
    body: ClipRequest,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    background: BackgroundTasks,
) -> ClipOut:
    """Ask for another clip of a photo; it is queued and rendered by a worker."""
    photo = photo_or_404(session, photo_id)
    try:
        clip = create_clip(
            session=session, photo=photo, request=body, settings=services.settings, store=services.store
        )
    except MaskRejected as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    background.add_task(services.dispatcher.send, clip.id, clip.engine)
    return clip_out(clip)


@router.get("/clips/{clip_id}")
def get_clip(clip_id: str, user: CurrentUser, session: SessionDep) -> ClipOut:
    return clip_out(clip_or_404(session, clip_id))


@router.put("/photos/{photo_id}/chosen-clip", responses={409: {"description": "not this photo's ready clip"}})
def put_chosen_clip(photo_id: str, body: ClipChoice, user: CurrentUser, session: SessionDep) -> PhotoOut:
    """Choose the clip the gallery, albums and films show for this photo (any member: it loses nothing)."""
    photo = photo_or_404(session, photo_id)
    try:
        choose_clip(session=session, photo=photo, clip_id=body.clip_id)
    except ClipNotChoosable as exc:
        raise HTTPException(409, str(exc)) from None
    return photo_out(photo)


@router.delete("/clips/{clip_id}", status_code=204, responses={403: {"description": "added by someone else"}})
def remove_clip(clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> None:
    """Delete one clip with its files and share links: for whoever added the photo, or an admin. A clip
    being made is stopped."""
    clip = clip_or_404(session, clip_id)
    if not may_delete(user, clip.photo):
        raise HTTPException(403, "only the person who added this photo, or an admin, can delete its clips")
    delete_clip(session=session, store=services.store, clip=clip)
