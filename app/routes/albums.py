"""The album pages: the list of albums, and one album's photos."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep, SettingsDep, album_or_404
from app.routes.pages import PageAuth, render
from app.urls import only_this_computer

router = APIRouter(include_in_schema=False)


@router.get("/albums")
def albums_page(request: Request, auth: PageAuth) -> HTMLResponse:
    return render(request, "albums.html", auth)


@router.get("/albums/{album_id}")
def album_page(
    album_id: str, request: Request, auth: PageAuth, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    album = album_or_404(session, album_id)
    # Where links are made, say so when they would open on this computer only.
    return render(request, "album.html", auth, album=album, local_only=only_this_computer(request, settings))
