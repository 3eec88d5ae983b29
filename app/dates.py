"""When a photo was taken, from its EXIF DateTimeOriginal (with OffsetTimeOriginal where the camera wrote
one), HEIC included. A photo without one is placed at its upload time, and says so.

The time kept is the camera's wall clock: a photo taken at 01:00 on 1 February belongs to February in
the family's timeline wherever the server is. The offset, when known, is kept beside it for the API.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from PIL import Image

from app.images import load_plugin

TakenSource = Literal["exif", "upload"]

_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
# EXIF writes 2019:07:14 18:30:05; some software writes dashes or a T.
_EXIF_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
# Cameras with an unset clock write 0000:00:00 or their epoch; neither is a date a family took a photo.
_EARLIEST_YEAR = 1826  # the oldest surviving photograph
_LATEST_CLOCK_AHEAD = timedelta(days=2)  # a camera's local time runs at most 14 hours ahead of UTC


@dataclass(frozen=True)
class TakenAt:
    local: datetime  # naive: the wall clock where the photo was taken
    offset_minutes: int | None  # from UTC, when the camera said
    source: TakenSource

    @property
    def title(self) -> str:
        """The day in words, as a page about the photo is titled: "21 February 2023"."""
        return f"{self.local.day} {self.local:%B %Y}"

    def isoformat(self) -> str:
        if self.offset_minutes is None:
            return self.local.isoformat()
        return self.local.replace(tzinfo=timezone(timedelta(minutes=self.offset_minutes))).isoformat()


def uploaded_at(moment: datetime) -> TakenAt:
    """The fallback: the upload time, in UTC, marked as such."""
    return TakenAt(moment.astimezone(UTC).replace(tzinfo=None), 0, "upload")


def parse_exif_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = _EXIF_DATE.match(value.strip())
    if match is None:
        return None
    try:
        parsed = datetime(*(int(part) for part in match.groups()))  # type: ignore[arg-type]
    except ValueError:  # 2021:02:30 and the like
        return None
    return parsed if parsed.year >= _EARLIEST_YEAR else None


def parse_exif_offset(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    match = _EXIF_OFFSET.fullmatch(value.strip())
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > 14 * 60:  # no place on Earth is further from UTC
        return None
    return -total if sign == "-" else total


def exif_taken_at(source: bytes | Path, fmt: str) -> TakenAt | None:
    """DateTimeOriginal of a photo of format `fmt` (a key of ACCEPTED_FORMATS); None when it has none
    that makes sense. Reads the header only."""
    load_plugin(fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd EXIF is common and harmless here
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                exif = image.getexif().get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 (a photo whose metadata cannot be read simply has no date)
        return None
    local = parse_exif_datetime(exif.get(_DATE_TIME_ORIGINAL))
    # A date after today is a camera whose clock was never set (tests/fixtures' exif_gps.jpg says 2099).
    if local is None or local > datetime.now(UTC).replace(tzinfo=None) + _LATEST_CLOCK_AHEAD:
        return None
    return TakenAt(local, parse_exif_offset(exif.get(_OFFSET_TIME_ORIGINAL)), "exif")
