"""Receiving uploaded photos: multipart file parts streamed straight into the media store.

FastAPI's UploadFile spools every file of a request to the system's temporary folder before the route
runs, and reading it back as bytes held the whole request in memory. Here each `files` part goes, as it
arrives, into an IncomingFile inside the store: sized, hashed and checked against the disk reserve on the
way, never whole in memory, and kept by a rename. The request is read only after the caller is signed in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.config import Settings
from app.diskspace import DiskReserve
from app.errors import ServiceError
from app.images import ImageRejected, ReceivedFile
from app.storage import IncomingFile, MediaStore

FIELD = "files"
MAX_FILES = 1000
_HOW = f"send the photos as multipart/form-data, one `{FIELD}` field per photo"

Received = tuple[str, ReceivedFile | ImageRejected]  # the name it was sent with, and what became of it

# The OpenAPI description of the body, which FastAPI cannot derive from a route that reads the stream.
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": [FIELD],
                }
            }
        },
    }
}


@dataclass
class _Part:
    filename: str
    incoming: IncomingFile | None = None
    outcome: ReceivedFile | ImageRejected | None = None


@dataclass
class _Receiver:
    """The parser's callbacks only note what to do; file work runs in a thread between network reads."""

    store: MediaStore
    settings: Settings
    reserve: DiskReserve
    parts: list[_Part] = field(default_factory=list)
    pending: list[Callable[[], None]] = field(default_factory=list)
    _part: _Part | None = None
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""

    # --- parser callbacks (in the event loop: no file work here) ---
    def on_part_begin(self) -> None:
        self._part, self._disposition = None, b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        # Other fields and parts without a file name carry nothing we use; their data is dropped.
        if options.get(b"name") != FIELD.encode() or b"filename" not in options:
            return
        if len(self.parts) >= MAX_FILES:
            raise ServiceError(413, f"more than {MAX_FILES} files in one upload; send them in batches")
        part = _Part(options[b"filename"].decode("utf-8", errors="replace") or "photo")
        self.parts.append(part)
        self._part = part
        self.pending.append(lambda: self._begin(part))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            part, chunk = self._part, data[start:end]
            self.pending.append(lambda: self._write(part, chunk))

    def on_part_end(self) -> None:
        if self._part is not None:
            part = self._part
            self.pending.append(lambda: self._finish(part))
        self._part = None

    # --- file work (in a worker thread) ---
    def _begin(self, part: _Part) -> None:
        part.incoming = self.store.incoming(max_bytes=self.settings.max_upload_bytes, reserve=self.reserve)

    def _write(self, part: _Part, chunk: bytes) -> None:
        if part.incoming is None:
            return  # refused already: the rest of it goes nowhere
        try:
            part.incoming.write(chunk)
        except ImageRejected as refused:
            part.incoming.discard()
            part.incoming, part.outcome = None, refused

    def _finish(self, part: _Part) -> None:
        if part.incoming is not None:
            part.outcome = part.incoming.finish()

    def run_pending(self) -> None:
        actions, self.pending = self.pending, []
        for action in actions:
            action()

    def discard_all(self) -> None:
        """Remove every temporary file left (refused, duplicate, abandoned); kept ones were renamed."""
        for part in self.parts:
            if part.incoming is not None:
                part.incoming.discard()


async def _read(request: Request, receiver: _Receiver) -> None:
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise ServiceError(422, f"this upload is not multipart/form-data; {_HOW}")
    declared = request.headers.get("content-length", "")
    # Refused before a byte is read when the declared size would eat into the reserve.
    await run_in_threadpool(receiver.reserve.check, needed=int(declared) if declared.isdigit() else 0)
    callbacks = {
        "on_part_begin": receiver.on_part_begin,
        "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value,
        "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished,
        "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end,
    }
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.pending:
                await run_in_threadpool(receiver.run_pending)
        parser.finalize()
    except FormParserError:
        raise ServiceError(422, f"the upload is not valid multipart/form-data; {_HOW}") from None
    if not receiver.parts:
        raise ServiceError(422, f"no photo in the upload; {_HOW}")
    if any(part.outcome is None for part in receiver.parts):
        raise ServiceError(422, f"the upload ended in the middle of a file; {_HOW}")


@asynccontextmanager
async def received_files(
    request: Request, *, store: MediaStore, settings: Settings
) -> AsyncIterator[list[Received]]:
    """Every file of the request, received into the store (or refused, with the reason), in order.

    Whatever the block does not keep, and everything when the request fails, is removed on the way out.
    Raises ServiceError (422 not multipart, 507 DiskFull); BodySizeLimit's 413 passes through.
    """
    receiver = _Receiver(store, settings, DiskReserve.for_media(settings))
    try:
        await _read(request, receiver)
        yield [(part.filename, part.outcome) for part in receiver.parts if part.outcome is not None]
    finally:
        await run_in_threadpool(receiver.discard_all)
