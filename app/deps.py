"""FastAPI dependencies: routes read like sentences (`user: CurrentUser, session: SessionDep`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import BackgroundTasks, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from app.albums import UnknownPhotos, animate_photos
from app.auth import csrf_matches, find_session
from app.config import Settings
from app.db import Database
from app.dispatch import Dispatcher
from app.models import Album, AuthSession, Clip, Film, Photo, User
from app.schemas import Queued
from app.storage import MediaStore

SESSION_COOKIE = "vivant_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Services:
    """Everything a request may need, built once per app (no module globals)."""

    settings: Settings
    database: Database
    store: MediaStore
    dispatcher: Dispatcher


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_db(services: ServicesDep) -> Iterator[Session]:
    with services.database.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
# "function": commit before the response goes out, so a client that reads right after a write sees it.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def current_auth_session(request: Request, session: SessionDep, settings: SettingsDep) -> AuthSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return find_session(session=session, token=token, secret=settings.session_secret)


OptionalAuth = Annotated[AuthSession | None, Depends(current_auth_session)]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_is_foreign(request: Request, settings: Settings) -> bool:
    """A browser names the page a write came from; one from another site is refused. Ours is the Host the
    request came to or, behind a reverse proxy that rewrites Host, the origin of VIVANT_PUBLIC_URL."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return bool(origin)
    if settings.public_url and _origin(origin) == _origin(settings.public_url):
        return False
    return urlsplit(origin).netloc != request.headers.get("host", request.url.netloc)


def require_auth(request: Request, auth: OptionalAuth, settings: SettingsDep) -> AuthSession:
    if auth is None:
        raise HTTPException(401, "sign in first")
    if request.method not in SAFE_METHODS:
        # Writes that ride on the cookie must prove they come from our own pages.
        if origin_is_foreign(request, settings):
            raise HTTPException(403, "this request came from another site")
        if not csrf_matches(auth.csrf_token, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header; sign in again if this persists")
    return auth


CurrentAuth = Annotated[AuthSession, Depends(require_auth)]


def require_user(auth: CurrentAuth) -> User:
    return auth.user


CurrentUser = Annotated[User, Depends(require_user)]


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "only an administrator can do this")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def photo_or_404(session: Session, photo_id: str) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise HTTPException(404, "no such photo")
    return photo


def user_or_404(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such account")
    return user


def album_or_404(session: Session, album_id: str) -> Album:
    album = session.get(Album, album_id)
    if album is None:
        raise HTTPException(404, "no such album")
    return album


def queue_clips(
    session: Session, services: Services, background: BackgroundTasks, photo_ids: list[str]
) -> Queued:
    """Clips for the photos that have none; sent after the response, once the session has committed them."""
    try:
        clips = animate_photos(session=session, settings=services.settings, photo_ids=photo_ids)
    except UnknownPhotos as exc:
        raise HTTPException(404, str(exc)) from None
    for clip in clips:
        background.add_task(services.dispatcher.send, clip.id, clip.engine)
    return Queued(queued=len(clips))


def clip_or_404(session: Session, clip_id: str, *, ready: bool = False) -> Clip:
    """The clip; with `ready`, only a finished one (its files exist)."""
    clip = session.get(Clip, clip_id)
    if clip is None or (ready and clip.status != "ready"):
        raise HTTPException(404, "no such clip")
    return clip


def film_or_404(session: Session, film_id: str, *, ready: bool = False) -> Film:
    """The film; with `ready`, only a finished one (its file exists)."""
    film = session.get(Film, film_id)
    if film is None or (ready and film.status != "ready"):
        raise HTTPException(404, "no such film")
    return film
