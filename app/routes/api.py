"""The JSON API. Errors are `{"detail": ...}` with a status a client can act on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from app.auth import (
    any_user_exists,
    authenticate,
    change_password,
    create_user,
    end_session,
    remove_user,
    set_password,
    start_session,
)
from app.clips import clip_out, create_clip
from app.deps import (
    SESSION_COOKIE,
    AdminUser,
    CurrentAuth,
    CurrentUser,
    Services,
    ServicesDep,
    SessionDep,
    SettingsDep,
    clip_or_404,
    photo_or_404,
    user_or_404,
)
from app.images import ImageRejected
from app.models import Share, User
from app.photos import add_photo, delete_photo, list_photos, may_delete
from app.schemas import (
    ClipOut,
    ClipRequest,
    Credentials,
    LoginOut,
    NewPassword,
    PasswordChange,
    PhotoOut,
    PhotoPage,
    RefusedFile,
    ShareOut,
    ShareRequest,
    UploadedPhoto,
    UserOut,
)
from app.sessions_http import clear_session_cookie, set_session_cookie
from app.sharing import create_share, revoke_share, share_out
from app.urls import absolute_url, photo_out

router = APIRouter(prefix="/api")


def _signed_in(request: Request, response: Response, services: Services, user_id: str) -> LoginOut:
    settings = services.settings
    with services.database.session() as session:
        # A new session id at every sign-in: a planted cookie never becomes a signed-in one.
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            end_session(session=session, token=old, secret=settings.session_secret)
        user = session.get(User, user_id)
        assert user is not None
        new = start_session(
            session=session, user=user, secret=settings.session_secret, days=settings.session_days
        )
        set_session_cookie(response, request, settings, new.token)
        return LoginOut(csrf_token=new.csrf_token, email=user.email, is_admin=user.is_admin)


@router.post("/setup", status_code=201, responses={409: {"description": "an account already exists"}})
def setup(body: Credentials, request: Request, response: Response, services: ServicesDep) -> LoginOut:
    """Create the first administrator. Refused once any account exists."""
    with services.database.session() as session:
        if any_user_exists(session):
            raise HTTPException(409, "Vivant is already set up; sign in instead")
        user = create_user(session=session, email=body.email, password=body.password, is_admin=True)
        user_id = user.id
    return _signed_in(request, response, services, user_id)


@router.post("/auth/login", responses={401: {}, 429: {}})
def login(body: Credentials, request: Request, response: Response, services: ServicesDep) -> LoginOut:
    address = request.client.host if request.client else "unknown"
    with services.database.session() as session:
        user = authenticate(session=session, email=body.email, password=body.password, address=address)
        user_id = user.id
    return _signed_in(request, response, services, user_id)


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    end_session(session=session, token=request.cookies[SESSION_COOKIE], secret=settings.session_secret)
    clear_session_cookie(response)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, is_admin=user.is_admin)


@router.post("/me/password", status_code=204, responses={403: {"description": "wrong current password"}})
def change_my_password(body: PasswordChange, auth: CurrentAuth, session: SessionDep) -> None:
    """A new password for the signed-in account; its other sessions end, this one stays."""
    change_password(session=session, signed_in=auth, current=body.current_password, new=body.new_password)


class NewUser(Credentials):
    is_admin: bool = False


@router.post("/users", status_code=201)
def add_user(body: NewUser, admin: AdminUser, session: SessionDep) -> UserOut:
    user = create_user(session=session, email=body.email, password=body.password, is_admin=body.is_admin)
    return UserOut(id=user.id, email=user.email, is_admin=user.is_admin)


@router.post("/users/{user_id}/password", status_code=204)
def reset_password(user_id: str, body: NewPassword, admin: AdminUser, session: SessionDep) -> None:
    """Set a member's password (they forgot theirs); every session of theirs ends."""
    set_password(session=session, user=user_or_404(session, user_id), new=body.password)


@router.delete("/users/{user_id}", status_code=204, responses={409: {"description": "your own account"}})
def remove_member(user_id: str, admin: AdminUser, session: SessionDep) -> None:
    """Remove an account; the photos and links it added stay."""
    remove_user(session=session, user=user_or_404(session, user_id), by=admin)


def _ingest_all(
    services: Services, files: list[tuple[str, bytes]], owner_id: str
) -> list[UploadedPhoto | ImageRejected]:
    results: list[UploadedPhoto | ImageRejected] = []
    for filename, data in files:
        try:
            added = add_photo(
                database=services.database, store=services.store, settings=services.settings, data=data,
                filename=filename, owner_id=owner_id, animate=services.settings.auto_animate,
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
        422: {"description": "corrupt"},
    },
)
async def upload_photos(
    files: list[UploadFile], user: CurrentUser, services: ServicesDep, background: BackgroundTasks
) -> list[UploadedPhoto | RefusedFile]:
    """Upload photos (multipart, field `files` repeated). Each is checked by its content."""
    payload = [(f.filename or "photo", await f.read()) for f in files]
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
) -> PhotoPage:
    """Photos, newest first, each with its clips."""
    try:
        photos, next_cursor = list_photos(session=session, limit=limit, cursor=cursor)
    except LookupError as exc:
        raise HTTPException(400, str(exc)) from None
    return PhotoPage(items=[photo_out(p) for p in photos], next_cursor=next_cursor)


@router.get("/photos/{photo_id}")
def get_photo(photo_id: str, user: CurrentUser, session: SessionDep) -> PhotoOut:
    return photo_out(photo_or_404(session, photo_id))


@router.delete(
    "/photos/{photo_id}", status_code=204, responses={403: {"description": "added by someone else"}}
)
def remove_photo(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> None:
    """Delete a photo with its clips and links: for whoever added it, or an admin."""
    photo = photo_or_404(session, photo_id)
    if not may_delete(user, photo):
        raise HTTPException(403, "only the person who added this photo, or an admin, can delete it")
    delete_photo(session=session, store=services.store, photo=photo)


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


@router.post("/clips/{clip_id}/shares", status_code=201, responses={409: {"description": "clip not ready"}})
def add_share(
    clip_id: str,
    body: ShareRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ShareOut:
    """Create a share link. The URL is shown once: only a hash of its token is kept."""
    share, token = create_share(
        session=session,
        clip=clip_or_404(session, clip_id),
        request=body,
        secret=settings.session_secret,
        user_id=user.id,
    )
    return share_out(share, absolute_url(request, settings, f"/s/{token}"))


@router.get("/clips/{clip_id}/shares")
def list_shares(clip_id: str, user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Live links of a clip (their URLs cannot be shown again)."""
    clip = clip_or_404(session, clip_id)
    return [share_out(s, url="") for s in clip.shares if s.revoked_at is None]


@router.delete("/shares/{share_id}", status_code=204)
def delete_share(share_id: str, user: CurrentUser, session: SessionDep) -> None:
    share = session.get(Share, share_id)
    if share is None:
        raise HTTPException(404, "no such share")
    revoke_share(session=session, share=share)


@router.get("/shares")
def all_shares(user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    shares = session.scalars(
        select(Share).where(Share.revoked_at.is_(None)).order_by(Share.created_at.desc())
    )
    return [share_out(s, url="") for s in shares]
