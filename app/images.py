"""Decode, validate, orient and normalise one uploaded photo; re-encode display copies and thumbnails.

A pure library: the upload route, the CLI and the worker all call it, so it imports no web or database
code. Every refusal is an `ImageRejected` carrying an HTTP status and a sentence a person can act on.

No decode timeout is needed in-process: the pixel count is checked from the header before any pixel
data is decoded, so the work done afterwards is bounded by VIVANT_MAX_PIXELS.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps

# Enough for every magic number below and for telling text from binary.
SNIFF_BYTES = 512

# Sniffed name -> (Pillow plugin id, MIME type, name for messages). Only these are decoded.
_ACCEPTED: dict[str, tuple[str, str, str]] = {
    "jpeg": ("JPEG", "image/jpeg", "JPEG"),
    "png": ("PNG", "image/png", "PNG"),
    "webp": ("WEBP", "image/webp", "WebP"),
    "gif": ("GIF", "image/gif", "GIF"),
    "heic": ("HEIF", "image/heic", "HEIC"),
    "avif": ("AVIF", "image/avif", "AVIF"),
}
ACCEPTED_FORMATS = frozenset(_ACCEPTED)
_ACCEPTED_LIST = "JPEG, PNG, WebP, GIF, HEIC or AVIF"

# Things people do upload by mistake, with what to tell them.
_REFUSALS: dict[str, str] = {
    "svg": "SVG drawings are not photos; export it as PNG or JPEG",
    "xml": "this file is XML text, not a photo",
    "html": "this file is a web page (HTML), not a photo",
    "pdf": "this file is a PDF document, not a photo; export the page as JPEG or PNG",
    "text": "this file is plain text, not a photo",
    "tiff": f"TIFF and camera RAW files are not accepted; export the photo as {_ACCEPTED_LIST}",
    "bmp": f"BMP files are not accepted; convert the photo to {_ACCEPTED_LIST}",
    "psd": f"Photoshop files are not accepted; export the photo as {_ACCEPTED_LIST}",
    "jxl": f"JPEG XL files are not accepted yet; convert the photo to {_ACCEPTED_LIST}",
    "zip": "this file is a ZIP archive; unpack it and upload the photos inside",
    "video": "this file is a video, not a photo",
}

_HEIC_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"mif2", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


class ImageRejected(Exception):
    """An upload that is not a photo we can use. `status_code`: 415 not a (supported) image,
    413 too many pixels or bytes, 422 corrupt or truncated. The message is shown to the person."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class DecodedPhoto:
    image: Image.Image  # RGB, sRGB, upright, no metadata
    width: int
    height: int
    format: str  # a key of ACCEPTED_FORMATS
    mime: str
    sha256: str  # hex digest of the uploaded bytes, for dedupe
    original_size: int  # bytes


def sniff_format(head: bytes) -> str | None:
    """Name what `head` (the first SNIFF_BYTES of a file) holds, from magic bytes only.

    Returns a key of ACCEPTED_FORMATS for photos we decode, another short name ("svg", "pdf", "text",
    "tiff", ...) for things recognised but refused, or None when nothing matches."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head)
    for magic, name in (
        (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"),
        (b"%PDF-", "pdf"),
        (b"BM", "bmp"),
        (b"8BPS", "psd"),
        (b"\xff\x0a", "jxl"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),
        (b"PK\x03\x04", "zip"),
    ):
        if head.startswith(magic):
            return name
    return _sniff_text(head)


def _sniff_iso_bmff(head: bytes) -> str:
    # The ftyp box: size, "ftyp", major brand, minor version, then compatible brands to the box's end.
    box_end = min(struct.unpack(">I", head[:4])[0], len(head))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS:
        return "heic"
    return "video"


def _sniff_text(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the end of the head is still text.
        if err.start < len(head) - 3:
            return None
        text = head[: err.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    if not text or any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "html"
    if start.startswith("<svg") or (start.startswith(("<?xml", "<!doctype svg")) and "<svg" in start):
        return "svg"
    if start.startswith("<?xml"):
        return "xml"
    return "text"


@dataclass(frozen=True)
class ReceivedFile:
    """An upload as it arrived on disk: its size and sha256 were taken while it streamed in."""

    path: Path
    size: int
    sha256: str


def upload_too_large(max_bytes: int, size: int | None = None) -> ImageRejected:
    # While a file streams in its size is not known yet, only that it passed the limit.
    size_text = f"{size / 2**20:.1f} MB" if size is not None else f"over {max_bytes / 2**20:.0f} MB"
    return ImageRejected(
        413, f"file is {size_text}; the limit is {max_bytes / 2**20:.0f} MB (VIVANT_MAX_UPLOAD_MB)"
    )


def decode_upload(
    upload: bytes | ReceivedFile, *, max_pixels: int, max_bytes: int | None = None
) -> DecodedPhoto:
    """Check an upload (its bytes, or the file it was received into) by content, decode it within the
    limits, and return it upright in sRGB RGB. A file is read from disk, never whole into memory.

    Raises ImageRejected (with a 4xx status and a reason) for anything that is not a usable photo."""
    if isinstance(upload, bytes):
        size, sha256 = len(upload), hashlib.sha256(upload).hexdigest()
    else:
        size, sha256 = upload.size, upload.sha256
    if max_bytes is not None and size > max_bytes:
        raise upload_too_large(max_bytes, size)
    with _opened(upload) as source:
        fmt = _sniff_or_reject(source.read(SNIFF_BYTES))
        source.seek(0)
        image = _decode(source, fmt, max_pixels=max_pixels, max_side=None)
    return DecodedPhoto(
        image=image,
        width=image.width,
        height=image.height,
        format=fmt,
        mime=_ACCEPTED[fmt][1],
        sha256=sha256,
        original_size=size,
    )


def _opened(upload: bytes | ReceivedFile | Path) -> BinaryIO:
    if isinstance(upload, bytes):
        return io.BytesIO(upload)
    return open(upload if isinstance(upload, Path) else upload.path, "rb")


def load_photo_rgb(path: Path, *, max_pixels: int, max_side: int | None = None) -> np.ndarray:
    """Read a photo file and return it upright as an RGB uint8 array of shape (height, width, 3).

    `max_side` is a hint for speed: a large photo then comes back reduced by an integer factor (a JPEG
    is decoded at 1/2, 1/4 or 1/8 scale, other formats are box-averaged after decoding), with its long
    side still at least `max_side`, so the caller still resizes it to the exact size it wants."""
    with _opened(path) as source:
        fmt = _sniff_or_reject(source.read(SNIFF_BYTES))
        source.seek(0)
        image = _decode(source, fmt, max_pixels=max_pixels, max_side=max_side)
    return np.asarray(image)


def encode_jpeg(image: Image.Image, *, long_side: int | None, quality: int) -> bytes:
    """Re-encode an RGB image as a plain sRGB JPEG (no EXIF, XMP, ICC or GPS), shrunk so its long side
    is at most `long_side` (never enlarged). Display copy: 2560, q90; thumbnail: 480, q82."""
    if image.mode != "RGB":
        raise ValueError(f"encode_jpeg expects an RGB image (decode_upload gives one), got {image.mode}")
    if long_side is not None and max(image.size) > long_side:
        scale = long_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # reducing_gap first shrinks by an integer factor (fast box filter), then Lanczos finishes:
        # indistinguishable from pure Lanczos at these ratios and several times faster on 12 MP photos.
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    # Only what is passed here is written: Pillow never copies image.info (EXIF, ICC) into a JPEG.
    image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def _sniff_or_reject(head: bytes) -> str:
    if not head:
        raise ImageRejected(422, "empty file (0 bytes): the upload may have been interrupted; try again")
    fmt = sniff_format(head)
    if fmt in ACCEPTED_FORMATS:
        return fmt
    if fmt is not None:
        raise ImageRejected(415, _REFUSALS[fmt])
    raise ImageRejected(415, f"this file is not a photo format we recognise; upload {_ACCEPTED_LIST}")


# Pillow's module for each accepted format. Only the one a file needs is imported: Image.init() imports
# all forty of Pillow's plugins, a twentieth of a second of `vivant animate`'s start.
_PLUGIN_MODULES = {
    "jpeg": "PIL.JpegImagePlugin",
    "png": "PIL.PngImagePlugin",
    "webp": "PIL.WebPImagePlugin",
    "gif": "PIL.GifImagePlugin",
    "avif": "PIL.AvifImagePlugin",
}


@functools.cache
def load_plugin(fmt: str) -> None:
    """Register the decoder of one accepted format with Pillow (a missing one is reported by the caller)."""
    if fmt == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        return
    try:
        importlib.import_module(_PLUGIN_MODULES[fmt])
    except ImportError:
        pass


def _decode(source: BinaryIO, fmt: str, *, max_pixels: int, max_side: int | None) -> Image.Image:
    plugin, _, name = _ACCEPTED[fmt]
    load_plugin(fmt)
    if plugin not in Image.OPEN:
        raise ImageRejected(415, f"{name} photos cannot be read by this installation; convert it to JPEG")
    # Pillow warns about odd but readable files (bad EXIF, big images); the checks below decide what
    # is refused, so no warning should reach the caller. catch_warnings is not thread-safe before
    # Python 3.14: a race can at worst leave these filters in place or drop them, never fail a decode.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 1. Parse the header only, with the one plugin the magic bytes named.
        try:
            image: Image.Image = Image.open(source, formats=[plugin])
        except Image.DecompressionBombError:
            # Pillow's own ceiling (about 179 MP) fired while reading the header.
            limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
            raise ImageRejected(
                413,
                f"photo is over {_megapixels(limit)} megapixels; "
                f"the limit is {_megapixels(max_pixels)} (VIVANT_MAX_PIXELS)",
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as err:
            raise ImageRejected(422, f"the {name} data is corrupt and cannot be read ({err})") from None
        # 2. Refuse too many pixels before a single one is decoded. For GIF this is the first frame's
        # canvas; later frames are never read (they may claim enormous extents).
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                413,
                f"photo is {width}×{height} ({_megapixels(width * height)} megapixels); "
                f"the limit is {_megapixels(max_pixels)} (VIVANT_MAX_PIXELS)",
            )
        # 3. Decode fully now, so truncation shows here and not later in a worker.
        if max_side is not None and fmt == "jpeg" and max(width, height) > max_side:
            scale = max_side / max(width, height)
            image.draft(None, (max(1, round(width * scale)), max(1, round(height * scale))))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as err:
            if "truncated" in str(err):
                raise ImageRejected(422, f"the {name} data is cut short (truncated file)") from None
            raise ImageRejected(422, f"the {name} data is corrupt and cannot be read ({err})") from None
        # 4. Orientation, an optional cheap shrink for callers that only need `max_side`, then colour.
        image = _upright(image)
        if max_side is not None:
            image = _shrink_towards(image, max_side)
        return _to_srgb_rgb(image)


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.1f}" if mp < 10 else f"{mp:.0f}"


def _upright(image: Image.Image) -> Image.Image:
    try:
        # In place: an already upright 12 MP photo is then not copied for nothing.
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, KeyError, struct.error):
        pass  # unreadable EXIF: the pixels are fine, only the orientation hint is lost
    return image


def _shrink_towards(image: Image.Image, max_side: int) -> Image.Image:
    """Box-average by the largest integer factor that keeps the long side at least `max_side`.

    Done before the colour conversion, which is the slow step on a 12 MP phone photo. Palette and
    16-bit images are left alone: averaging palette indexes is meaningless, and they are rare."""
    factor = max(image.size) // max_side
    if factor < 2 or image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    return image.reduce(factor)


def _to_srgb_rgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    # 1. Reduce every mode to colour bands (L, RGB or CMYK) plus an optional alpha band.
    mode = image.mode
    alpha: Image.Image | None = None
    if mode.startswith("I"):
        # 16-bit (and 32-bit integer) greyscale: keep the top 8 bits; convert("L") would clip to white.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    elif mode == "L" and "transparency" in image.info:
        image = image.convert("LA")
    elif mode in ("La", "RGBa"):
        image = image.convert(mode.upper())
    elif mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        image = image.convert("RGB")
    if image.mode in ("LA", "RGBA"):
        alpha = image.getchannel("A")
        image = image.convert(image.mode[:-1])
    # 2. Embedded profile -> sRGB. CMYK without a profile uses Pillow's conversion, which reads
    # Adobe's inverted CMYK JPEGs the right way round.
    rgb = _apply_icc(image, icc) if icc else None
    if rgb is None:
        rgb = image.convert("RGB")
    # 3. Transparency becomes white, as the photo would look printed on paper.
    if alpha is not None:
        rgb = Image.composite(rgb, Image.new("RGB", rgb.size, (255, 255, 255)), alpha)
    rgb.info = {}
    return rgb


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _apply_icc(image: Image.Image, icc: bytes) -> Image.Image | None:
    """The image converted from its embedded profile to sRGB, or None when the profile is sRGB already,
    does not fit the image's mode, or is broken (the pixels are then used as they are)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        converted = ImageCms.profileToProfile(
            image, profile, _srgb_profile(), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    return converted
