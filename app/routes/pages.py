"""HTML pages for members. Signed-out visitors are sent to /login (or /setup on a new server)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from app.auth import any_user_exists
from app.deps import OptionalAuth, SessionDep, SettingsDep, photo_or_404
from app.models import AuthSession, User
from app.photos import may_delete
from app.sharing import library_links
from app.templating import local_path
from app.urls import absolute_url, only_this_computer, photos_out

router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    def __init__(self, target: str):
        self.target = target


def page_auth(request: Request, auth: OptionalAuth) -> AuthSession:
    if auth is None:
        raise SignInRequired(request.url.path)
    return auth


PageAuth = Annotated[AuthSession, Depends(page_auth)]


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    with request.app.state.services.database.session() as session:
        if not any_user_exists(session):
            return RedirectResponse("/setup", status_code=303)
    return RedirectResponse(f"/login?next={quote(exc.target)}", status_code=303)


def render(
    request: Request, name: str, auth: AuthSession | None, status_code: int = 200, **context: object
) -> HTMLResponse:
    templates = request.app.state.templates
    context |= {
        "user": auth.user if auth else None,
        "csrf_token": auth.csrf_token if auth else "",
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/")
def gallery(
    request: Request,
    auth: PageAuth,
    favourites: Annotated[bool, Query(description="only my favourites")] = False,
) -> HTMLResponse:
    return render(request, "gallery.html", auth, favourites=favourites)


@router.get("/upload")
def upload(request: Request, auth: PageAuth) -> HTMLResponse:
    return render(request, "upload.html", auth)


@router.get("/photos/{photo_id}")
def photo_page(
    photo_id: str, request: Request, auth: PageAuth, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    photo = photo_or_404(session, photo_id)
    owner = session.get(User, photo.owner_id) if photo.owner_id else None
    return render(
        request,
        "photo.html",
        auth,
        photo=photos_out(session, auth.user, [photo])[0].model_dump(mode="json"),
        added_by=owner.email if owner else None,
        can_delete=may_delete(auth.user, photo),
        # Titled by the day it was taken: a file name like IMG_2041.HEIC says nothing to the family.
        title=photo.taken.title,
        local_only=only_this_computer(request, settings),
    )


@router.get("/family")
def family_page(request: Request, auth: PageAuth, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    members = session.scalars(select(User).order_by(User.created_at, User.email)).all()
    return render(
        request,
        "family.html",
        auth,
        members=members,
        login_url=absolute_url(request, settings, "/login"),
        local_only=only_this_computer(request, settings),
    )


@router.get("/links")
def links_page(request: Request, auth: PageAuth, session: SessionDep) -> HTMLResponse:
    return render(request, "links.html", auth, links=library_links(session=session))


@router.get("/setup", response_model=None)
def setup_page(request: Request, auth: OptionalAuth, session: SessionDep) -> Response:
    if any_user_exists(session):
        return RedirectResponse("/" if auth else "/login", status_code=303)
    return render(request, "setup.html", None)


@router.get("/login", response_model=None)
def login_page(
    request: Request, auth: OptionalAuth, session: SessionDep, next: Annotated[str | None, Query()] = None
) -> Response:
    target = local_path(next)
    if auth is not None:
        return RedirectResponse(target, status_code=303)
    if not any_user_exists(session):
        return RedirectResponse("/setup", status_code=303)
    return render(request, "login.html", None, next=target)
