"""Uploading, listing and deleting photos."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from app.deps import CurrentUser, Services, ServicesDep, SessionDep, photo_or_404, queue_clips
from app.favourites import set_favourite
from app.images import ImageRejected
from app.photos import add_photo, delete_photo, list_photos, may_delete, photo_years
from app.schemas import PhotoIds, PhotoOut, PhotoPage, Queued, RefusedFile, UploadedPhoto, YearCount
from app.uploads import OPENAPI_BODY, Received, received_files
from app.urls import photos_out

router = APIRouter()


def _ingest_all(
    services: Services, files: list[Received], owner_id: str
) -> list[UploadedPhoto | ImageRejected]:
    results: list[UploadedPhoto | ImageRejected] = []
    for filename, received in files:
        if isinstance(received, ImageRejected):
            results.append(received)
            continue
        try:
            added = add_photo(
                database=services.database, store=services.store, settings=services.settings,
                received=received, filename=filename, owner_id=owner_id,
                animate=services.settings.auto_animate,
            )  # fmt: skip
        except ImageRejected as exc:
            results.append(exc)
            continue
        photo = added.photo
        results.append(
            UploadedPhoto(
                id=photo.id,
                sha256=photo.sha256,
                width=photo.width,
                height=photo.height,
                duplicate=added.duplicate,
                filename=photo.original_name,
                clip_id=added.clip.id if added.clip else None,
            )  # fmt: skip
        )
    return results


@router.post(
    "/photos",
    status_code=201,
    responses={
        413: {"description": "too large"},
        415: {"description": "not a photo"},
        422: {"description": "corrupt, or not a multipart upload"},
        507: {"description": "the server's disk is nearly full (VIVANT_MIN_FREE_MB)"},
    },
    openapi_extra=OPENAPI_BODY,
)
async def upload_photos(
    request: Request, user: CurrentUser, services: ServicesDep, background: BackgroundTasks
) -> list[UploadedPhoto | RefusedFile]:
    """Upload photos (multipart, field `files` repeated). Each is checked by its content."""
    async with received_files(request, store=services.store, settings=services.settings) as payload:
        results = await run_in_threadpool(_ingest_all, services, payload, user.id)
    refused = [
        (name, r) for (name, _), r in zip(payload, results, strict=True) if isinstance(r, ImageRejected)
    ]
    if len(refused) == len(results):
        first = refused[0][1]
        detail = first.message if len(refused) == 1 else "; ".join(f"{n}: {r.message}" for n, r in refused)
        raise HTTPException(first.status_code, detail)
    out: list[UploadedPhoto | RefusedFile] = []
    for (name, _), result in zip(payload, results, strict=True):
        if isinstance(result, ImageRejected):
            out.append(RefusedFile(filename=name, error=result.message))
        else:
            out.append(result)
            if result.clip_id:
                background.add_task(
                    services.dispatcher.send, result.clip_id, services.settings.default_engine
                )
    return out


@router.get("/photos")
def get_photos(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    year: Annotated[
        int | None, Query(ge=1, le=9998, description="start at the newest photo of this year")
    ] = None,
    favourites: Annotated[bool, Query(description="only the signed-in member's favourites")] = False,
) -> PhotoPage:
    """Photos by date taken, newest first, each with its clips."""
    try:
        photos, next_cursor = list_photos(
            session=session,
            limit=limit,
            cursor=cursor,
            year=year,
            favourites_of=user.id if favourites else None,
        )
    except LookupError as exc:
        raise HTTPException(400, str(exc)) from None
    return PhotoPage(items=photos_out(session, user, photos), next_cursor=next_cursor)


@router.get("/photos/years")
def get_years(user: CurrentUser, session: SessionDep) -> list[YearCount]:
    """The years photos were taken in, newest first, with how many: the timeline's jump list."""
    return [YearCount(year=year, count=count) for year, count in photo_years(session=session)]


@router.get("/photos/{photo_id}")
def get_photo(photo_id: str, user: CurrentUser, session: SessionDep) -> PhotoOut:
    return photos_out(session, user, [photo_or_404(session, photo_id)])[0]


@router.post("/photos/animate", responses={404: {"description": "unknown photo ids, named"}})
def animate_selection(
    body: PhotoIds, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> Queued:
    """A default clip for each of these photos that has none queued, running or ready."""
    return queue_clips(session, services, background, body.photo_ids)


@router.put("/photos/{photo_id}/favourite", status_code=204)
def mark_favourite(photo_id: str, user: CurrentUser, session: SessionDep) -> None:
    """Mark the photo as one of the signed-in member's favourites (idempotent)."""
    set_favourite(
        session=session, user_id=user.id, photo_id=photo_or_404(session, photo_id).id, favourite=True
    )


@router.delete("/photos/{photo_id}/favourite", status_code=204)
def unmark_favourite(photo_id: str, user: CurrentUser, session: SessionDep) -> None:
    set_favourite(
        session=session, user_id=user.id, photo_id=photo_or_404(session, photo_id).id, favourite=False
    )


@router.delete(
    "/photos/{photo_id}", status_code=204, responses={403: {"description": "added by someone else"}}
)
def remove_photo(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> None:
    """Delete a photo with its clips and links: for whoever added it, or an admin."""
    photo = photo_or_404(session, photo_id)
    if not may_delete(user, photo):
        raise HTTPException(403, "only the person who added this photo, or an admin, can delete it")
    delete_photo(session=session, store=services.store, photo=photo)
