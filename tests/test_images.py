"""app/images.py over the shared fixture images and generated hostile inputs."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from fixture_paths import FIXTURES
from PIL import Image, ImageCms

from app.images import (
    ACCEPTED_FORMATS,
    SNIFF_BYTES,
    DecodedPhoto,
    ImageRejected,
    decode_upload,
    encode_jpeg,
    load_photo_rgb,
    sniff_format,
)

MAX_PIXELS = 80_000_000
# Genuinely black pictures (ffmpeg decodes them black too): exempt from the "has content" check.
BLANK_FIXTURES = {"L_exif_xmp_iptc.heic", "exif_gps.jpg"}
REPO = Path(__file__).resolve().parents[1]


def fixture_files(folder: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / folder).iterdir() if p.is_file())


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def decode_file(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    photo = decode_upload(path.read_bytes(), max_pixels=max_pixels)
    assert photo.image.mode == "RGB"
    assert (photo.width, photo.height) == photo.image.size
    return np.asarray(photo.image)


def decode_file_bytes(data: bytes) -> np.ndarray:
    return np.asarray(decode_upload(data, max_pixels=MAX_PIXELS).image)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming width x height RGB, with almost no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


# --- accepted files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    fixture_files("photos") + fixture_files("orientation") + fixture_files("edge"),
    ids=ids(fixture_files("photos") + fixture_files("orientation") + fixture_files("edge")),
)
def test_every_good_fixture_decodes_to_rgb(path: Path) -> None:
    data = path.read_bytes()
    photo = decode_upload(data, max_pixels=MAX_PIXELS)
    assert photo.image.mode == "RGB"
    assert photo.format in ACCEPTED_FORMATS
    assert photo.mime.startswith("image/")
    assert photo.original_size == len(data)
    assert len(photo.sha256) == 64
    assert photo.image.info == {}
    # Not a blank canvas: real picture content came through.
    assert np.asarray(photo.image).std() > 5 or path.name in BLANK_FIXTURES


@pytest.mark.parametrize("path", fixture_files("orientation"), ids=ids(fixture_files("orientation")))
def test_orientation_fixtures_come_out_upright(path: Path) -> None:
    reference = decode_file(FIXTURES / "photos" / "hopper.jpg")
    upright = decode_file(path)
    assert upright.shape == reference.shape
    assert mean_abs_diff(upright, reference) < 12
    # The same pixels without the EXIF hint are visibly wrong: the comparison can tell.
    with Image.open(path) as raw:
        as_stored = np.asarray(raw.convert("RGB"))
    assert mean_abs_diff(as_stored, reference) > 30


def test_cmyk_jpeg_is_not_inverted() -> None:
    # Pillow's own tests document this file: red in the top-left corner, black in the bottom-right.
    rgb = decode_file(FIXTURES / "edge" / "pil_sample_cmyk.jpg")
    top_left, bottom_right = rgb[0, 0].astype(int), rgb[-1, -1].astype(int)
    assert top_left[0] > 200 and top_left[1] < 60 and top_left[2] < 60
    assert bottom_right.max() < 40
    inverted = 255 - rgb
    assert inverted[0, 0, 0] < 60 and inverted[-1, -1].min() > 215


def test_transparent_png_is_flattened_onto_white() -> None:
    path = FIXTURES / "edge" / "transparent.png"
    with Image.open(path) as raw:
        rgba = np.asarray(raw.convert("RGBA"))
    clear, opaque = rgba[..., 3] == 0, rgba[..., 3] == 255
    assert clear.any() and opaque.any()
    rgb = decode_file(path)
    assert (rgb[clear] == 255).all()
    assert np.array_equal(rgb[opaque], rgba[..., :3][opaque])


def test_first_gif_frame_only() -> None:
    # A later frame claims enormous extents; only the 100x100 first frame may be read.
    photo = decode_upload(
        (FIXTURES / "edge" / "decompression_bomb_extents.gif").read_bytes(), max_pixels=MAX_PIXELS
    )
    assert photo.image.size == (100, 100)


@pytest.fixture(scope="module")
def pug() -> DecodedPhoto:
    """The 12 MP Display P3 phone photo, decoded once: it is the slowest fixture."""
    return decode_upload((FIXTURES / "photos" / "pug.heic").read_bytes(), max_pixels=MAX_PIXELS)


def test_heic_and_avif_decode_at_full_size(pug: DecodedPhoto) -> None:
    assert (pug.format, pug.mime, pug.image.size) == ("heic", "image/heic", (4032, 3024))
    avif = decode_upload((FIXTURES / "edge" / "hopper.avif").read_bytes(), max_pixels=MAX_PIXELS)
    assert (avif.format, avif.image.size) == ("avif", (128, 128))
    assert mean_abs_diff(np.asarray(avif.image), decode_file(FIXTURES / "photos" / "hopper.jpg")) < 12


@pytest.mark.parametrize(
    "image",
    [
        # 16-bit greyscale gradient: must keep its tones, not clip to white.
        Image.fromarray(np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (16, 1))),
        Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (16, 1))).convert("LA"),
        Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (16, 1))).convert("1"),
        Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (16, 1))).convert("P"),
    ],
    ids=["I;16", "LA", "1", "P"],
)
def test_unusual_modes_become_rgb_with_their_tones(image: Image.Image) -> None:
    data = encoded(image, "PNG")
    rgb = decode_file_bytes(data)
    expected = np.asarray(image.convert("L") if image.mode != "I;16" else image) / (
        257 if image.mode == "I;16" else 1
    )
    assert rgb.shape == (16, 64, 3)
    assert np.abs(rgb[..., 1].astype(float) - expected).max() <= 2


def test_palette_transparency_is_flattened_onto_white() -> None:
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0, 0, 0] * 254)
    image.paste(0, (0, 0, 4, 8))
    rgb = decode_file_bytes(encoded(image, "PNG", transparency=0))
    assert (rgb[:, :4] == 255).all()
    assert (rgb[:, 4:] == (200, 30, 30)).all()


def test_embedded_profile_is_converted_to_srgb() -> None:
    with Image.open(FIXTURES / "photos" / "pug.heic") as pug:
        display_p3 = pug.info["icc_profile"]
    swatch = Image.new("RGB", (8, 8), (60, 180, 60))
    swatch.paste((128, 128, 128), (0, 0, 4, 8))
    rgb = decode_file_bytes(encoded(swatch, "PNG", icc_profile=display_p3))
    # Grey stays grey (both spaces share D65 white); a P3 green lies outside sRGB and moves.
    assert np.abs(rgb[:, :4].astype(int) - 128).max() <= 2
    assert np.abs(rgb[:, 4:].astype(int) - (60, 180, 60)).max() > 10


def test_srgb_and_broken_profiles_leave_pixels_alone() -> None:
    swatch = Image.new("RGB", (8, 8), (60, 180, 60))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (srgb, b"not an icc profile at all" * 8):
        rgb = decode_file_bytes(encoded(swatch, "PNG", icc_profile=icc))
        assert (rgb == (60, 180, 60)).all()


# --- refused files --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_files("bad"), ids=ids(fixture_files("bad")))
def test_every_bad_fixture_is_refused_with_a_reason(path: Path) -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_upload(path.read_bytes(), max_pixels=MAX_PIXELS)
    assert 400 <= caught.value.status_code < 500
    assert len(caught.value.message) > 10


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("decompression_bomb.gif", 413, "VIVANT_MAX_PIXELS"),
        ("200MP.heic", 413, "VIVANT_MAX_PIXELS"),
        ("empty.jpg", 422, "empty"),
        ("text_named_as.jpg", 415, "plain text"),
        ("html_named_as.png", 415, "HTML"),
        ("script.svg", 415, "SVG"),
        ("truncated_jpeg.jpg", 422, "truncated"),
        ("einstein_cut_in_half.jpg", 422, "truncated"),
        ("broken.png", 422, "PNG data is corrupt"),
        ("crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif", 415, "TIFF"),
    ],
)
def test_bad_fixture_reasons(name: str, status: int, words: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_upload((FIXTURES / "bad" / name).read_bytes(), max_pixels=MAX_PIXELS)
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_pixel_cap_is_ours_and_names_the_setting() -> None:
    # 144 MP: above Pillow's warning threshold but below its own error, so only our cap stops it.
    with pytest.raises(ImageRejected) as caught:
        decode_upload(png_claiming(12_000, 12_000), max_pixels=MAX_PIXELS)
    assert caught.value.status_code == 413
    assert caught.value.message == (
        "photo is 12000×12000 (144 megapixels); the limit is 80 (VIVANT_MAX_PIXELS)"
    )
    hopper = (FIXTURES / "photos" / "hopper.jpg").read_bytes()
    with pytest.raises(ImageRejected, match="photo is 128×128"):
        decode_upload(hopper, max_pixels=128 * 128 - 1)
    assert decode_upload(hopper, max_pixels=128 * 128).image.size == (128, 128)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (random.Random(7).randbytes(4096), 415),
        (png_claiming(60_000, 60_000), 413),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", 415),
        (b"", 422),
        (b"\x00" * 1000, 415),
        (b"\xff\xd8\xff\xe0" + random.Random(8).randbytes(2000), 422),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", 415),
    ],
    ids=["random", "png-60000x60000", "pdf", "zero-bytes", "nul-bytes", "jpeg-magic-then-noise", "mp4"],
)
def test_generated_hostile_inputs_are_refused(data: bytes, status: int) -> None:
    with pytest.raises(ImageRejected) as caught:
        decode_upload(data, max_pixels=MAX_PIXELS)
    assert caught.value.status_code == status
    assert caught.value.message


def test_upload_byte_limit() -> None:
    data = (FIXTURES / "photos" / "einstein.jpg").read_bytes()
    with pytest.raises(ImageRejected, match="VIVANT_MAX_UPLOAD_MB") as caught:
        decode_upload(data, max_pixels=MAX_PIXELS, max_bytes=len(data) - 1)
    assert caught.value.status_code == 413
    assert decode_upload(data, max_pixels=MAX_PIXELS, max_bytes=len(data)).original_size == len(data)


PEAK_SCRIPT = """
import json, sys
from app.images import ImageRejected, decode_upload

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

data = open(sys.argv[1], "rb").read()
# The peak is inherited across fork and exec: reset it so only the decode below counts.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = peak_mb()
try:
    decode_upload(data, max_pixels=int(sys.argv[2]))
    status = 200
except ImageRejected as err:
    status = err.status_code
print(json.dumps({"status": status, "grew_mb": peak_mb() - before}))
"""


def decode_in_child(data: bytes, max_pixels: int, tmp_path: Path) -> dict[str, float]:
    """Decode in a fresh process and report how much its peak resident memory grew, in MB."""
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path), str(max_pixels)],
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak memory is read from Linux /proc")
def test_pixel_cap_stops_allocation_before_decoding(tmp_path: Path) -> None:
    claim = decode_in_child(png_claiming(60_000, 60_000), MAX_PIXELS, tmp_path)
    assert claim["status"] == 413 and claim["grew_mb"] < 50
    # A real 4000x4000 PNG that compresses to almost nothing but needs 64 MB once decoded.
    black = encoded(Image.new("RGB", (4000, 4000)), "PNG")
    assert len(black) < 200_000
    refused = decode_in_child(black, 4_000_000, tmp_path)
    assert refused["status"] == 413 and refused["grew_mb"] < 50
    # Control: allowed through, the same bytes do cost the memory, so the measure can tell.
    accepted = decode_in_child(black, 20_000_000, tmp_path)
    assert accepted["status"] == 200 and accepted["grew_mb"] > 50


# --- sniffing -------------------------------------------------------------------------------------


def test_sniffing_trusts_content_not_names() -> None:
    path = FIXTURES / "edge" / "png_named_as.jpg"
    assert sniff_format(path.read_bytes()[:SNIFF_BYTES]) == "png"
    photo = decode_upload(path.read_bytes(), max_pixels=MAX_PIXELS)
    assert (photo.format, photo.mime) == ("png", "image/png")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photos/hopper.jpg", "jpeg"),
        ("photos/dog.png", "png"),
        ("edge/hopper.webp", "webp"),
        ("edge/hopper.gif", "gif"),
        ("photos/pug.heic", "heic"),
        ("edge/L_exif_xmp_iptc.heic", "heic"),
        ("edge/hopper.avif", "avif"),
        ("bad/script.svg", "svg"),
        ("bad/html_named_as.png", "html"),
        ("bad/text_named_as.jpg", "text"),
        ("bad/crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif", "tiff"),
    ],
)
def test_sniff_fixtures(name: str, expected: str) -> None:
    assert sniff_format((FIXTURES / name).read_bytes()[:SNIFF_BYTES]) == expected


def test_sniff_text_variants() -> None:
    svg = b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert sniff_format(svg) == "svg"
    assert sniff_format(b'<?xml version="1.0"?><feed/>') == "xml"
    assert sniff_format(b"  <!DOCTYPE html><p>hi</p>") == "html"
    # A multi-byte character cut at the end of the sniffed head is still text.
    assert sniff_format("Grüße aus Köln ö".encode()[:-1]) == "text"
    assert sniff_format(b"\x00\x01\x02binary") is None


# --- re-encoding ----------------------------------------------------------------------------------


def test_encode_jpeg_drops_exif_and_gps() -> None:
    path = FIXTURES / "edge" / "exif_gps.jpg"
    with Image.open(path) as raw:
        assert raw.getexif().get_ifd(0x8825)  # the fixture really carries GPS
    photo = decode_upload(path.read_bytes(), max_pixels=MAX_PIXELS)
    data = encode_jpeg(photo.image, long_side=2560, quality=90)
    assert b"Exif" not in data and b"http://ns.adobe.com/xap" not in data and b"ICC_PROFILE" not in data
    with Image.open(io.BytesIO(data)) as out:
        assert len(out.getexif()) == 0
        assert "icc_profile" not in out.info


def test_encode_jpeg_ignores_metadata_the_image_still_carries() -> None:
    with Image.open(FIXTURES / "edge" / "exif_gps.jpg") as raw:
        image = raw.convert("RGB")
    assert "exif" in image.info
    assert b"Exif" not in encode_jpeg(image, long_side=None, quality=90)


def test_encode_jpeg_of_heic_phone_photo_strips_its_metadata() -> None:
    photo = decode_upload((FIXTURES / "photos" / "xiaomi.heic").read_bytes(), max_pixels=MAX_PIXELS)
    data = encode_jpeg(photo.image, long_side=480, quality=82)
    assert b"Exif" not in data and b"ICC_PROFILE" not in data
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (480, 360)
        assert len(thumb.getexif()) == 0


def test_encode_jpeg_shrinks_but_never_enlarges() -> None:
    image = decode_upload((FIXTURES / "photos" / "einstein.jpg").read_bytes(), max_pixels=MAX_PIXELS).image
    for long_side, expected in [(2560, (375, 500)), (None, (375, 500)), (480, (360, 480)), (100, (75, 100))]:
        with Image.open(io.BytesIO(encode_jpeg(image, long_side=long_side, quality=82))) as out:
            assert out.size == expected
            assert out.mode == "RGB"


def test_encode_jpeg_keeps_the_picture() -> None:
    image = decode_upload((FIXTURES / "photos" / "einstein.jpg").read_bytes(), max_pixels=MAX_PIXELS).image
    with Image.open(io.BytesIO(encode_jpeg(image, long_side=None, quality=90))) as out:
        assert mean_abs_diff(np.asarray(out), np.asarray(image)) < 3


def test_encode_jpeg_refuses_non_rgb() -> None:
    with pytest.raises(ValueError, match="RGB"):
        encode_jpeg(Image.new("RGBA", (4, 4)), long_side=None, quality=82)


# --- file loading for the CLI ---------------------------------------------------------------------


def test_load_photo_rgb_matches_decode_upload() -> None:
    path = FIXTURES / "orientation" / "hopper_orientation_6.jpg"
    array = load_photo_rgb(path, max_pixels=MAX_PIXELS)
    assert array.dtype == np.uint8 and array.shape == (128, 128, 3)
    assert np.array_equal(array, decode_file(path))


def test_load_photo_rgb_max_side_decodes_a_smaller_jpeg_but_not_below_the_hint() -> None:
    path = FIXTURES / "edge" / "junk_jpeg_header.jpg"  # 1024x768
    assert load_photo_rgb(path, max_pixels=MAX_PIXELS).shape == (768, 1024, 3)
    assert load_photo_rgb(path, max_pixels=MAX_PIXELS, max_side=500).shape == (384, 512, 3)
    assert load_photo_rgb(path, max_pixels=MAX_PIXELS, max_side=200).shape == (192, 256, 3)
    small = load_photo_rgb(path, max_pixels=MAX_PIXELS, max_side=500)
    full = np.asarray(Image.fromarray(load_photo_rgb(path, max_pixels=MAX_PIXELS)).resize((512, 384)))
    assert mean_abs_diff(small, full) < 6


def test_load_photo_rgb_max_side_shrinks_a_heic_after_decoding(pug: DecodedPhoto) -> None:
    small = load_photo_rgb(FIXTURES / "photos" / "pug.heic", max_pixels=MAX_PIXELS, max_side=1280)
    assert small.shape == (1008, 1344, 3)  # 4032x3024 reduced by 3, long side still >= 1280
    full_reduced = np.asarray(pug.image.reduce(3))
    assert mean_abs_diff(small, full_reduced) < 2


def test_load_photo_rgb_refuses_like_an_upload() -> None:
    with pytest.raises(ImageRejected) as caught:
        load_photo_rgb(FIXTURES / "bad" / "200MP.heic", max_pixels=MAX_PIXELS)
    assert caught.value.status_code == 413


def test_grey_sources_decode_as_grey_rgb_arrays() -> None:
    grey_heic = load_photo_rgb(FIXTURES / "edge" / "L_exif_xmp_iptc.heic", max_pixels=MAX_PIXELS)
    assert grey_heic.shape == (64, 64, 3)
    path = FIXTURES / "edge" / "hopper_gray.jpg"
    with Image.open(path) as raw:
        assert raw.mode == "L"
        expected = np.asarray(raw)
    grey_jpeg = load_photo_rgb(path, max_pixels=MAX_PIXELS)
    for band in range(3):
        assert np.array_equal(grey_jpeg[..., band], expected)
