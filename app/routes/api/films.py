"""Following an album's film. Films are asked for on their album (POST /api/albums/{id}/film)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import CurrentUser, SessionDep, film_or_404
from app.films import film_out
from app.schemas import FilmOut

router = APIRouter()


@router.get("/films/{film_id}", responses={404: {"description": "no such film"}})
def get_film(film_id: str, user: CurrentUser, session: SessionDep) -> FilmOut:
    """The film's state; `video_url` and `download_url` once it is ready."""
    return film_out(film_or_404(session, film_id))
