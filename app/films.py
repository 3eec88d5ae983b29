"""Asking for an album's film, listing what goes in it, and describing it.

The worker composes the film (worker/film.py); this module only decides what it is made of, so the web
app loads no decoder or encoder.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.albums import album_photos
from app.clips import clip_to_show
from app.models import Album, Film, User
from app.schemas import FilmOut
from app.storage import MediaStore
from worker.film_plan import FilmEntry


def film_entries(session: Session, film: Film, store: MediaStore) -> list[FilmEntry]:
    """What the film shows, in the album's order (by date taken): each photo's clip as the gallery shows it
    (the one the family chose, else the newest ready one), or its still. Photos removed from the album or
    deleted since the film was asked for are left out."""
    entries = []
    for photo in album_photos(session=session, album_id=film.album_id):
        clip = clip_to_show(photo)
        video = store.video(clip.id) if clip is not None else None
        # A clip file lost from the media folder leaves its photo in the film, shown still.
        entries.append(
            FilmEntry(still=store.display(photo.id), clip=video if video and video.is_file() else None)
        )
    return entries


def request_film(session: Session, album: Album, user: User) -> Film:
    """A queued film of the album. The caller commits, then sends it (Dispatcher.send_film): a worker
    must not look for a row that is not committed yet."""
    film = Film(album_id=album.id, created_by=user.id, status="queued", progress=0.0)
    session.add(film)
    session.flush()
    return film


def album_film_ids(session: Session, album_id: str) -> list[str]:
    """The album's films, so that deleting the album can remove their files (the rows go by cascade)."""
    return list(session.scalars(select(Film.id).where(Film.album_id == album_id)))


def ready_film(session: Session, album_id: str) -> Film | None:
    """The album's newest finished film, the one an album link shows."""
    query = (
        select(Film)
        .where(Film.album_id == album_id, Film.status == "ready")
        .order_by(Film.finished_at.desc(), Film.id)
        .limit(1)
    )
    return session.scalar(query)


def film_file_name(album: Album | None) -> str:
    """The download's name: the album's title, as far as a file name allows."""
    title = album.title if album is not None else ""
    safe = "".join(c if c.isalnum() or c in " -_.,()'" else " " for c in title).strip(" .")
    return f"{' '.join(safe.split()) or 'Vivant film'}.mp4"


def film_out(film: Film) -> FilmOut:
    ready = film.status == "ready"
    return FilmOut(
        id=film.id,
        album_id=film.album_id,
        status=film.status,  # type: ignore[arg-type]
        progress=1.0 if ready else round(film.progress, 3),
        error=film.error,
        duration_s=film.duration_s,
        video_url=f"/media/films/{film.id}.mp4" if ready else None,
        download_url=f"/media/films/{film.id}/download" if ready else None,
    )


# Said of a ready film whose file is gone (found by `vivant check`, or after a restore).
LOST_FILM = "the film's file was lost from the media folder; export the album's film again"


def mark_film_lost(film: Film) -> None:
    film.status, film.error, film.claim_token = "failed", LOST_FILM, None


def requeue_film(film: Film) -> None:
    """Back to the start, with every try ahead of it (it was being made when a backup was taken). Unsent, so
    the reconciler sends it."""
    film.status, film.progress, film.attempts, film.error, film.claim_token = "queued", 0.0, 0, None, None
    film.sent_at = film.started_at = film.heartbeat_at = film.finished_at = film.duration_s = None
