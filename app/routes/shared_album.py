"""An album link: `/s/{token}` shows the album's photos, and these routes serve their files.

Every file is reached through the token and a photo id, and the photo must be in the link's album at that
moment (404 otherwise): a link shows its album and nothing else. Only metadata-free copies are served
(display copies, thumbnails, clips, posters, the film), never the uploaded originals, which may carry GPS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.albums import album_photos, summarise
from app.clips import clip_to_show
from app.config import Settings
from app.deps import ServicesDep, SessionDep
from app.films import film_file_name, ready_film
from app.models import AlbumPhoto, Photo, Share
from app.routes.share_link import AlbumShare, public_page, shared_file
from app.urls import absolute_url

router = APIRouter(prefix="/s", include_in_schema=False)

NO_DOWNLOADS = "downloads are not allowed for this link"


@dataclass(frozen=True)
class SharedPhoto:
    """One photo of the album as the link shows it, with the link's own URLs."""

    id: str
    title: str  # the day it was taken, in words
    width: int
    height: int
    thumb_url: str
    still_url: str  # the display copy
    clip_url: str | None  # the clip shown for it, when one is ready
    poster_url: str | None


def _shared_photos(session: SessionDep, album_id: str, base: str) -> list[SharedPhoto]:
    photos = []
    for photo in album_photos(session=session, album_id=album_id):
        url = f"{base}/photos/{photo.id}"
        clip = clip_to_show(photo)
        photos.append(
            SharedPhoto(
                id=photo.id,
                title=photo.taken.title,
                width=photo.width,
                height=photo.height,
                thumb_url=f"{url}/thumb",
                still_url=f"{url}/photo",
                clip_url=f"{url}/video" if clip else None,
                poster_url=f"{url}/poster" if clip else None,
            )
        )
    return photos


def _player_item(photo: SharedPhoto) -> dict[str, str | None]:
    """What /static/player.js takes. "Original" is the display copy: a link never gives the original."""
    return {
        "title": photo.title,
        "still_url": photo.still_url,
        "clip_url": photo.clip_url,
        "original_url": photo.still_url,
    }


def album_page(
    request: Request, share: Share, session: SessionDep, settings: Settings, *, token: str, locked: bool
) -> HTMLResponse:
    """The page of an album link (share.py's `/s/{token}` sends album links here)."""
    album = share.album
    assert album is not None  # share.py sends only album links
    base = f"/s/{token}"
    context: dict[str, object] = {
        "locked": locked,
        "share": share,
        "album": album,
        "base": base,
        "page_url": absolute_url(request, settings, base),
        "error": request.query_params.get("error"),
    }
    if not locked:
        photos = _shared_photos(session, album.id, base)
        cover_id = summarise(session=session, albums=[album])[0].cover_id
        film = ready_film(session, album.id)
        cover_url = f"{base}/photos/{cover_id}/photo" if cover_id else None
        context |= {
            "photos": [asdict(photo) for photo in photos],
            "player_items": [_player_item(photo) for photo in photos],
            "cover_url": absolute_url(request, settings, cover_url) if cover_url else None,
            "film_url": f"{base}/film" if film else None,
            "film_poster": next((p.still_url for p in photos if p.id == cover_id), None),
        }
    templates = request.app.state.templates
    return public_page(
        templates.TemplateResponse(request, "shared_album.html", context, status_code=401 if locked else 200)
    )


def _album_photo(session: SessionDep, share: Share, photo_id: str) -> Photo:
    """The photo, only while it is in the link's album."""
    if session.get(AlbumPhoto, (share.album_id, photo_id)) is None:
        raise HTTPException(404, "no such photo in this album")
    photo = session.get(Photo, photo_id)
    if photo is None:  # the entry goes with the photo (cascade); this is a belt for the braces
        raise HTTPException(404, "no such photo in this album")
    return photo


PhotoFile = Literal["video", "poster", "photo", "thumb"]


def _photo_file(kind: PhotoFile, photo: Photo, services: ServicesDep, download: bool = False) -> FileResponse:
    store = services.store
    day = f"vivant-{photo.taken_at:%Y-%m-%d}"
    if kind in ("video", "poster"):
        clip = clip_to_show(photo)
        if clip is None:
            raise HTTPException(404, "this photo has no clip yet")
        if kind == "video":
            return shared_file(store.video(clip.id), "video/mp4", f"{day}.mp4", download=download)
        return shared_file(store.poster(clip.id), "image/jpeg", f"{day}-poster.jpg")
    path = store.display(photo.id) if kind == "photo" else store.thumbnail(photo.id)
    return shared_file(path, "image/jpeg", f"{day}.jpg", download=download)


@router.get("/{token}/photos/{photo_id}/video")
def album_video(photo_id: str, share: AlbumShare, session: SessionDep, services: ServicesDep) -> FileResponse:
    """The clip shown for the photo (the one the family chose, else its newest ready one)."""
    return _photo_file("video", _album_photo(session, share, photo_id), services)


@router.get("/{token}/photos/{photo_id}/poster")
def album_poster(
    photo_id: str, share: AlbumShare, session: SessionDep, services: ServicesDep
) -> FileResponse:
    return _photo_file("poster", _album_photo(session, share, photo_id), services)


@router.get("/{token}/photos/{photo_id}/photo")
def album_photo(photo_id: str, share: AlbumShare, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _photo_file("photo", _album_photo(session, share, photo_id), services)


@router.get("/{token}/photos/{photo_id}/thumb")
def album_thumb(photo_id: str, share: AlbumShare, session: SessionDep, services: ServicesDep) -> FileResponse:
    """The small copy the grid shows: a phone need not load every display copy to see the album."""
    return _photo_file("thumb", _album_photo(session, share, photo_id), services)


@router.get("/{token}/photos/{photo_id}/download/{kind}")
def album_download(
    photo_id: str, kind: str, share: AlbumShare, session: SessionDep, services: ServicesDep
) -> FileResponse:
    if not share.allow_download or kind not in ("video", "photo"):
        raise HTTPException(404, NO_DOWNLOADS)
    photo = _album_photo(session, share, photo_id)
    return _photo_file("video" if kind == "video" else "photo", photo, services, download=True)


def _film_file(share: Share, session: SessionDep, services: ServicesDep, download: bool) -> FileResponse:
    film = ready_film(session, share.album_id or "")
    if film is None:
        raise HTTPException(404, "this album has no film yet")
    name = film_file_name(share.album)
    return shared_file(services.store.film(film.id), "video/mp4", name, download=download)


@router.get("/{token}/film")
def album_film(share: AlbumShare, session: SessionDep, services: ServicesDep) -> FileResponse:
    """The album's newest finished film."""
    return _film_file(share, session, services, download=False)


@router.get("/{token}/film/download")
def album_film_download(share: AlbumShare, session: SessionDep, services: ServicesDep) -> FileResponse:
    if not share.allow_download:
        raise HTTPException(404, NO_DOWNLOADS)
    return _film_file(share, session, services, download=True)
