"""The keep-still mask a member paints on the photo page: checked, normalised, stored beside its clip.

The page sends what was painted as a PNG (a data URL or bare base64) at the size it painted on; the
worker scales it to the size it renders at, so only the photo's proportions have to match.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 16
MAX_SIDE = 4096
# Proportions may differ by rounding (a canvas is whole pixels), not by a different crop.
ASPECT_TOLERANCE = 0.02
# Painted over nearly everything, nothing would move: that is a still photo, not a clip.
MAX_PAINTED = 0.95
DATA_URL_PREFIX = "data:image/png;base64,"


class MaskRejected(ValueError):
    """Why a mask was refused, in words for the member who painted it."""


def _png_bytes(sent: str) -> bytes:
    text = sent.strip()
    if text.startswith("data:"):
        if not text.startswith(DATA_URL_PREFIX):
            raise MaskRejected("the keep-still mask must be a PNG (data:image/png;base64,...)")
        text = text[len(DATA_URL_PREFIX) :]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MaskRejected("the keep-still mask is not valid base64; send the PNG the page painted") from None
    if not data.startswith(PNG_SIGNATURE):
        raise MaskRejected("the keep-still mask is not a PNG image")
    return data


def _painted(image: Image.Image) -> np.ndarray:
    """True where painted: opaque pixels of a transparent canvas, or white pixels of an opaque mask
    (the same convention as `vivant animate --keep-still`)."""
    if "A" in image.getbands() or "transparency" in image.info:
        return np.asarray(image.convert("RGBA").getchannel("A")) >= 128
    return np.asarray(image.convert("L")) >= 128


def keep_still_png(sent: str, *, photo_width: int, photo_height: int) -> bytes:
    """The mask as a black-and-white PNG (white: keep still), or MaskRejected with the reason."""
    data = _png_bytes(sent)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # read from the header: nothing decoded yet
            if not (MIN_SIDE <= min(width, height) and max(width, height) <= MAX_SIDE):
                raise MaskRejected(
                    f"the keep-still mask is {width}x{height}; its sides must be {MIN_SIDE} to {MAX_SIDE} px"
                )
            aspect = photo_width / photo_height
            if abs(width / height - aspect) > ASPECT_TOLERANCE * aspect:
                raise MaskRejected(
                    f"the keep-still mask is {width}x{height}, not the shape of the photo "
                    f"({photo_width}x{photo_height}); paint it on this photo's page"
                )
            painted = _painted(image)
    except (OSError, Image.DecompressionBombError):
        raise MaskRejected("the keep-still mask is a damaged PNG; paint it again") from None
    share = float(painted.mean())
    if share == 0.0:
        raise MaskRejected("the keep-still mask is empty: paint what must not move, or send no mask")
    if share > MAX_PAINTED:
        raise MaskRejected(
            f"{share:.0%} of the photo is painted to keep still, so nothing would move; "
            "leave the parts that should move unpainted"
        )
    out = io.BytesIO()
    Image.fromarray(painted.astype(np.uint8) * 255).save(out, format="PNG", optimize=True)
    return out.getvalue()
