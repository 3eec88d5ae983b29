"""Hostile uploads against a real `vivant serve` process, and what share links let out of a photo.

Every hostile file must be refused with a 4xx and a reason; nothing stored, nothing queued; the server's
memory bounded (nothing decoded at a claimed size) and an oversized body stopped while it streams.
"""

from __future__ import annotations

import io
import re
import socket
import sqlite3
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pillow_heif
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.storage import MediaStore
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, set_up_admin, upload
from tests.fixture_paths import FIXTURES
from tests.processes import bytes_read, open_file_bytes, peak_rss_bytes, running_server
from tests.workers import wait_for
from worker.tasks import ClipRun

pillow_heif.register_heif_opener()

UPLOAD_LIMIT_MB = 3  # just above 200MP.heic, so that one is refused for its pixels
MB = 1024 * 1024
# A server that decoded any of the hostile files at its claimed size would grow by gigabytes.
MEMORY_GROWTH_LIMIT = 120 * MB
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|gif|heic|avif|mp4)$")


# --- hostile files, made here -------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header for a huge RGB image, followed by a few bytes of rows."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG whose frame header is rewritten to claim another size."""
    data = bytearray((FIXTURES / "photos" / "hopper.jpg").read_bytes())
    sof = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """An extended-format WebP header (VP8X) with a huge canvas and no image data."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def random_bytes() -> bytes:
    data = np.random.default_rng(7).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    return b"\x13\x37" + data  # no magic number of any format starts like this


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF\n"

GENERATED: dict[str, bytes] = {
    "random.jpg": random_bytes(),
    "claims_60000x60000.png": png_claiming(60000, 60000),
    "claims_65000x65000.jpg": jpeg_claiming(65000, 65000),
    "claims_16384x16384.webp": webp_claiming(16384, 16384),
    "document.jpg": PDF,
    "archive.png": b"PK\x03\x04" + b"\x00" * 200,
    "only_a_jpeg_marker.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 64,
}


def hostile_files() -> list[tuple[str, bytes]]:
    fixtures = [(p.name, p.read_bytes()) for p in sorted((FIXTURES / "bad").iterdir()) if p.is_file()]
    return fixtures + list(GENERATED.items())


PAYLOAD = b"VIVANT-POLYGLOT-PAYLOAD"


def jpeg_with_zip_payload() -> bytes:
    """A JPEG that is also a ZIP (readers of ZIPs look from the end) holding an HTML page."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("index.html", b"<html><script>alert(1)</script>" + PAYLOAD + b"</html>")
    return (FIXTURES / "photos" / "einstein.jpg").read_bytes() + archive.getvalue() + PAYLOAD


def png_with_html_payload() -> bytes:
    return (FIXTURES / "photos" / "dog.png").read_bytes() + b"<html><script>alert(1)</script>" + PAYLOAD


# --- a real server ------------------------------------------------------------------------------------


@dataclass
class Server:
    settings: Settings
    base: str
    pid: int
    tmp_dir: Path
    http: httpx.Client
    headers: dict[str, str]


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _queued_messages(settings: Settings) -> int:
    """Messages waiting in the embedded broker (kombu's SQLAlchemy transport on SQLite)."""
    path = settings.data_dir / "broker.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "kombu_message" not in tables:
            return 0
        return int(conn.execute("SELECT count(*) FROM kombu_message WHERE visible = 1").fetchone()[0])


def _rows(settings: Settings, table: str) -> int:
    database = Database(settings.sqlalchemy_url)
    try:
        with database.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`vivant serve --no-worker` with a small upload limit and a temp dir of its own, signed in."""
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings(data_dir=root / "data", secret_key="hostile-secret-" + "h" * 20)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    tmp_dir = root / "server-tmp"
    tmp_dir.mkdir()
    env = {"VIVANT_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB), "TMPDIR": str(tmp_dir)}
    with (
        running_server(settings, "--no-worker", log=root / "serve.log", **env) as (process, base),
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        created = http.post("/api/setup", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert created.status_code == 201, created.text
        headers = {"X-CSRF-Token": created.json()["csrf_token"]}
        yield Server(settings, base, process.pid, tmp_dir, http, headers)


def _post_files(server: Server, files: list[tuple[str, bytes]]) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return server.http.post("/api/photos", files=parts, headers=server.headers)


def test_every_hostile_file_is_refused_with_a_reason_and_memory_stays_bounded(server: Server) -> None:
    # Warm up with small valid photos of each decoder family, so the baseline includes the libraries.
    warm = [FIXTURES / "photos" / "hopper.jpg", FIXTURES / "edge" / "L_exif_xmp_iptc.heic"]
    for path in warm:
        assert _post_files(server, [(path.name, path.read_bytes())]).status_code == 201
    photos, clips = _rows(server.settings, "photos"), _rows(server.settings, "clips")
    # The clips are sent after each response; once both are in, the check below sees real messages.
    wait_for(lambda: _queued_messages(server.settings) == 2, timeout=20, what="two queued messages")
    stored = sorted(p for p in server.settings.media_dir.rglob("*") if p.is_file())
    baseline = peak_rss_bytes(server.pid)

    files = hostile_files()
    reasons: dict[str, str] = {}
    for name, data in files:
        response = _post_files(server, [(name, data)])
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and len(detail) > 15, (name, detail)
        reasons[name] = detail
    # Many in one request (within the size limit): every one refused, each named in the answer.
    small = [(name, data) for name, data in files if len(data) < MB]
    together = _post_files(server, small)
    assert 400 <= together.status_code < 500
    assert all(name in together.json()["detail"] for name, _ in small)

    assert _rows(server.settings, "photos") == photos and _rows(server.settings, "clips") == clips
    assert _queued_messages(server.settings) == 2
    assert sorted(p for p in server.settings.media_dir.rglob("*") if p.is_file()) == stored
    growth = peak_rss_bytes(server.pid) - baseline
    assert growth < MEMORY_GROWTH_LIMIT, f"the server's peak memory grew by {growth / MB:.0f} MB"
    # The reasons say what the file is, or what limit it broke.
    assert "megapixels" in reasons["claims_60000x60000.png"]
    assert "megapixels" in reasons["200MP.heic"] and "VIVANT_MAX_PIXELS" in reasons["200MP.heic"]
    assert "PDF" in reasons["document.jpg"]
    assert "ZIP" in reasons["archive.png"]
    assert "not a photo format" in reasons["random.jpg"]
    assert server.http.get("/healthz").status_code == 200


class _Sampler:
    """Measures, every few milliseconds while a request runs, the server's temporary files and data dir."""

    def __init__(self, server: Server):
        self.server = server
        self.peak_tmp = 0
        self.peak_data = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_tmp = max(self.peak_tmp, open_file_bytes(self.server.pid, self.server.tmp_dir))
            try:
                self.peak_data = max(self.peak_data, _tree_bytes(self.server.settings.data_dir))
            except FileNotFoundError:
                pass  # a journal file vanished while we summed
            self._stop.wait(0.005)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _stream_upload(server: Server, total: int, *, declare_length: bool) -> tuple[int, bytes]:
    """Send a multipart upload of `total` bytes over a raw socket, in 64 KiB pieces.

    Stops sending as soon as the server answers (or closes). Returns (status, body)."""
    boundary = "vivantboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = total + len(head) + len(tail)
    framing = f"Content-Length: {length}" if declare_length else "Transfer-Encoding: chunked"
    host, port = server.base.removeprefix("http://").split(":")
    cookie = "; ".join(f"{k}={v}" for k, v in server.http.cookies.items())
    request = (
        f"POST /api/photos HTTP/1.1\r\nHost: {host}:{port}\r\n{framing}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Cookie: {cookie}\r\nX-CSRF-Token: {server.headers['X-CSRF-Token']}\r\n\r\n"
    ).encode()
    piece = b"\xff" * 65536
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        chunks = [head] + [piece] * (total // len(piece)) + [tail]
        for chunk in chunks:
            sock.settimeout(0)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the server answered: stop sending
            except BlockingIOError:
                pass
            sock.settimeout(30)
            data = chunk if declare_length else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        if not declare_length and sent == length:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 20:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_oversized_upload_is_stopped_while_it_streams(server: Server, declare_length: bool) -> None:
    limit = UPLOAD_LIMIT_MB * MB
    photos = _rows(server.settings, "photos")
    data_before = _tree_bytes(server.settings.data_dir)
    read_before = bytes_read(server.pid)
    with _Sampler(server) as sampler:
        status, body = _stream_upload(server, 3 * limit, declare_length=declare_length)
    assert status == 413
    assert b"VIVANT_MAX_UPLOAD_MB" in body
    # The server stopped reading soon after the limit, and never wrote past it to disk: uploads stream
    # into the data dir (so keeping one is a rename), never to the system's temporary folder.
    assert bytes_read(server.pid) - read_before < limit + limit // 2
    assert sampler.peak_tmp == 0
    # The database may grow a little (its journal); the upload's temporary file never past the limit.
    assert sampler.peak_data - data_before < limit + limit // 4
    assert _rows(server.settings, "photos") == photos
    assert not list(server.settings.media_dir.glob(".incoming/*"))
    assert open_file_bytes(server.pid, server.tmp_dir) == 0
    assert server.http.get("/healthz").status_code == 200


def test_hostile_file_names_are_labels_only_and_shown_escaped(server: Server) -> None:
    traversal = "../../../../" + "escaped.jpg"
    # No slash in it: a slash is a path separator and what precedes it would be dropped.
    script = "<img src=x onerror=alert(1)><script>alert(2).jpg"
    colour = (FIXTURES / "edge" / "hopper_16bit_qtables.jpg").read_bytes()
    grey = (FIXTURES / "edge" / "hopper_gray.jpg").read_bytes()
    response = _post_files(server, [(traversal, colour), (script, grey)])
    assert response.status_code == 201, response.text
    first, second = response.json()
    assert not first["duplicate"] and not second["duplicate"]
    root = server.settings.data_dir.parent
    assert not list(root.rglob("escaped*"))
    for path in server.settings.media_dir.rglob("*"):
        if path.is_file():
            assert _STORED_NAME.match(path.name), path
    assert first["filename"] == "escaped.jpg"

    api = server.http.get(f"/api/photos/{second['id']}")
    assert api.headers["content-type"] == "application/json"
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.json()["original_name"] == script
    page = server.http.get(f"/photos/{second['id']}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "<script>alert(" not in page.text
    # The page is titled by date; the name travels to its script as JSON with < and > escaped, and the
    # script shows it as text (under Details).
    assert r"\u003cimg src=x onerror=alert(1)\u003e\u003cscript\u003ealert(2).jpg" in page.text
    assert "content-security-policy" in page.headers
    original = server.http.get(f"/media/photos/{second['id']}/original")
    assert original.status_code == 200
    disposition = original.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "<" not in disposition


@pytest.mark.parametrize("make", [jpeg_with_zip_payload, png_with_html_payload], ids=["jpeg+zip", "png+html"])
def test_polyglot_payload_never_reaches_a_derivative(server: Server, make: object) -> None:
    data = make()  # type: ignore[operator]
    response = _post_files(server, [("polyglot.jpg", data)])
    assert response.status_code == 201, response.text
    photo = server.http.get(f"/api/photos/{response.json()[0]['id']}").json()
    for url in (photo["display_url"], photo["thumbnail_url"]):
        derived = server.http.get(url)
        assert derived.headers["content-type"] == "image/jpeg"
        assert PAYLOAD not in derived.content and b"<script" not in derived.content
        assert b"PK\x03\x04" not in derived.content
        Image.open(io.BytesIO(derived.content)).verify()
    # The untouched original is for members only, as a download the browser never renders as a page.
    original = server.http.get(photo["original_url"])
    assert original.content == data
    assert original.headers["x-content-type-options"] == "nosniff"
    assert original.headers["content-disposition"].startswith("attachment;")
    assert original.headers["content-type"].startswith("image/")


# --- what a share link lets out -----------------------------------------------------------------------

SECRET_NAME = "Grandmas-house-Lisbon-GPS"


def _has_gps(data: bytes) -> bool:
    image = Image.open(io.BytesIO(data))
    return bool(image.getexif().get_ifd(0x8825))


@pytest.fixture(scope="module")
def shared_gps_photos(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, list[str], list[str]]]:
    """Two photos that carry GPS, each with a ready clip and a downloadable share link, and an album of both
    with a downloadable album link; the clip links' paths, and the album link's paths of each photo."""
    root = tmp_path_factory.mktemp("gps")
    settings = Settings(
        data_dir=root / "data", secret_key="gps-secret-" + "g" * 20, clip_long_side=256, default_seconds=1.0
    )
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        sources = [FIXTURES / "edge" / "exif_gps.jpg", FIXTURES / "photos" / "pug.heic"]
        assert all(_has_gps(p.read_bytes()) for p in sources)  # the test means something
        names = [f"{SECRET_NAME}{p.suffix}" for p in sources]
        items = upload(client, csrf, *sources, names=names).json()
        bases = []
        for item in items:
            assert ClipRun(database, settings, item["clip_id"]).run(MediaStore(settings.media_dir)) == "ready"
            share = client.post(
                f"/api/clips/{item['clip_id']}/shares",
                json={"allow_download": True},
                headers={"X-CSRF-Token": csrf},
            )
            bases.append("/s/" + share.json()["url"].rsplit("/", 1)[1])
        headers = {"X-CSRF-Token": csrf}
        album = client.post("/api/albums", json={"title": "Lisbon"}, headers=headers).json()["id"]
        photo_ids = [item["id"] for item in items]
        client.post(f"/api/albums/{album}/photos", json={"photo_ids": photo_ids}, headers=headers)
        link = client.post(f"/api/albums/{album}/shares", json={"allow_download": True}, headers=headers)
        album_base = "/s/" + link.json()["url"].rsplit("/", 1)[1]
        photo_bases = [f"{album_base}/photos/{photo_id}" for photo_id in photo_ids]
        yield TestClient(client.app), bases, [album_base, *photo_bases]
    database.dispose()


SHARE_SUFFIXES = ["", "/video", "/poster", "/photo", "/download/video", "/download/photo"]


@pytest.mark.parametrize("suffix", SHARE_SUFFIXES, ids=lambda s: s or "page")
def test_share_routes_carry_no_gps_and_no_file_name(
    shared_gps_photos: tuple[TestClient, list[str], list[str]], suffix: str
) -> None:
    public, bases, _ = shared_gps_photos
    for base in bases:
        _assert_nothing_private(public, base + suffix)


ALBUM_LINK_SUFFIXES = ["/video", "/poster", "/photo", "/thumb", "/download/video", "/download/photo"]


@pytest.mark.parametrize("suffix", ALBUM_LINK_SUFFIXES)
def test_album_link_routes_carry_no_gps_and_no_file_name(
    shared_gps_photos: tuple[TestClient, list[str], list[str]], suffix: str
) -> None:
    public, _, (album_base, *photo_bases) = shared_gps_photos
    if suffix == "/video":
        _assert_nothing_private(public, album_base)  # the album's page, once
    for base in photo_bases:
        _assert_nothing_private(public, base + suffix)


def _assert_nothing_private(public: TestClient, path: str) -> None:
    """No GPS, EXIF, XMP, MP4 location or uploaded file name in the body or headers, whole or by range."""
    for response in (public.get(path), public.get(path, headers={"Range": "bytes=0-"})):
        assert response.status_code in (200, 206), (path, response.status_code)
        content = response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        assert SECRET_NAME.lower().encode() not in (content + headers.encode()).lower()
        assert b"Exif\x00\x00" not in content and b"xmpmeta" not in content
        assert b"\xa9xyz" not in content  # the MP4 location atom
        if response.headers["content-type"] == "image/jpeg":
            assert not _has_gps(content) and not Image.open(io.BytesIO(content)).getexif()
