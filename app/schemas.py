"""Request and response bodies of the JSON API (they make /openapi.json exact)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from worker.choices import Ambient, Camera, EngineName, Strength

ClipStatus = Literal["queued", "running", "ready", "failed"]
# A revoked link is never listed; an expired one is, marked, so the family sees why it stopped working.
ShareStatus = Literal["live", "expired"]


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class NewPassword(BaseModel):
    password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class LoginOut(BaseModel):
    csrf_token: str
    email: str
    is_admin: bool


class UserOut(BaseModel):
    id: str
    email: str
    is_admin: bool


class ClipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: EngineName | None = None
    preset: str | None = Field(default=None, max_length=64)
    strength: Strength | None = None
    camera: Camera | None = None
    ambient: Ambient | None = Field(
        default=None,
        description="Motion in the scene itself where the photo has it (a drifting sky, shimmering water, "
        "stirring leaves, breathing light): `auto` (the default) or `off`",
    )
    seconds: float | None = Field(default=None, ge=1, le=10)
    fps: int | None = Field(default=None, ge=8, le=30)
    loop: bool | None = None
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    keep_still: str | None = Field(
        default=None,
        max_length=8_000_000,
        description="What must not move: a PNG (data URL or base64) in the photo's proportions, painted "
        "opaque (or white on black) where the picture stays still",
    )


class ClipOut(BaseModel):
    id: str
    photo_id: str
    status: ClipStatus
    progress: float
    error: str | None
    engine: str
    settings: dict[str, Any]
    width: int | None
    height: int | None
    video_url: str | None
    poster_url: str | None
    download_url: str | None = Field(description="the video as a file named by the date the photo was taken")
    metrics: dict[str, Any] | None
    created_at: datetime


class FilmOut(BaseModel):
    id: str
    album_id: str
    status: ClipStatus
    progress: float
    error: str | None
    duration_s: float | None
    video_url: str | None
    download_url: str | None


class PhotoOut(BaseModel):
    id: str
    sha256: str
    width: int
    height: int
    format: str
    original_name: str
    created_at: datetime
    taken_at: str = Field(
        description="When the photo was taken, ISO 8601: the camera's clock, with its UTC offset where the "
        "photo carries one; the upload time (UTC) when `taken_at_source` is `upload`"
    )
    taken_at_source: Literal["exif", "upload"]
    thumbnail_url: str
    display_url: str
    original_url: str
    clips: list[ClipOut] = Field(description="oldest first")
    favourite: bool = Field(description="whether the signed-in member marked it as a favourite")
    chosen_clip_id: str | None = Field(description="the clip the family chose to show, if any")
    shown_clip_id: str | None = Field(
        description="the clip to show: the chosen one while it is ready, else the newest ready one"
    )


class ClipChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clip_id: str | None = Field(max_length=32, description="null: show the newest ready clip again")


class YearCount(BaseModel):
    year: int
    count: int


class PhotoPage(BaseModel):
    items: list[PhotoOut]
    next_cursor: str | None


class UploadedPhoto(BaseModel):
    id: str
    sha256: str
    width: int
    height: int
    duplicate: bool
    filename: str
    clip_id: str | None = None


class RefusedFile(BaseModel):
    filename: str
    error: str


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    allow_download: bool = False
    password: str | None = Field(default=None, min_length=4, max_length=1024)


class ShareOut(BaseModel):
    id: str
    url: str
    kind: Literal["clip", "album"] = Field(description="what the link shows: one clip, or a whole album")
    clip_id: str | None = Field(description="the clip a clip link shows; null for an album link")
    photo_id: str | None = Field(description="that clip's photo; null for an album link")
    album_id: str | None = Field(description="the album an album link shows; null for a clip link")
    status: ShareStatus
    allow_download: bool
    expires_at: datetime | None
    has_password: bool
    created_at: datetime
    created_by: str | None = Field(description="e-mail of the member who made it; null once removed")
    opens: int = Field(description="how often the public page was opened (unlocked, where it has a password)")


# Surrounding blanks dropped first, so a title of spaces is refused like an empty one.
AlbumTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AlbumIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: AlbumTitle
    description: str = Field(default="", max_length=5000)


class AlbumPatch(BaseModel):
    """Only the fields given change; `cover_photo_id: null` goes back to the first photo."""

    model_config = ConfigDict(extra="forbid")

    title: AlbumTitle | None = None
    description: str | None = Field(default=None, max_length=5000)
    cover_photo_id: str | None = Field(default=None, max_length=32)


class AlbumOut(BaseModel):
    id: str
    title: str
    description: str
    cover_photo_id: str | None = Field(description="the chosen cover, or else the first photo by date taken")
    cover_url: str | None = Field(description="thumbnail of the cover; null for an empty album")
    photo_count: int
    created_by: str | None = Field(description="e-mail of the member who made it; null once removed")
    can_edit: bool = Field(description="whether the signed-in member may rename or delete it")
    created_at: datetime


class AlbumDetail(AlbumOut):
    photos: list[PhotoOut] = Field(description="by date taken, oldest first")


class PhotoIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    photo_ids: list[str] = Field(min_length=1, max_length=1000)


class AlbumAdded(BaseModel):
    added: int = Field(description="photos that were not in the album yet")


class Queued(BaseModel):
    queued: int = Field(description="clips queued: one per photo that had none queued, running or ready")


class Health(BaseModel):
    status: Literal["ok"]
    database: bool
