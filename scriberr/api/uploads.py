"""Streaming multipart reader: the `file` part goes straight to a staging file while its bytes are
counted, so uploads are never held in memory and the size limit is enforced while streaming.

    upload = await receive_upload(request, max_bytes, staging_dir)
    upload.fields["title"]  -> ["..."]     # every non-file field, repeated names kept in order
    upload.file             -> StagedFile | None

Over the limit: the partial file is removed and `PayloadTooLarge` (413) is raised. An empty file
part counts as no file. The caller owns
the staged file afterwards: move it into place or call `discard()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from scriberr.services.errors import InvalidRequest, PayloadTooLarge

FILE_FIELD = "file"
# Every non-file part (its headers and its value, repeated names included) counts against one
# budget for the whole body, so no combination of fields can make the server hold more.
MAX_FORM_BYTES = 64 * 1024
MAX_PARTS = 100
_FLUSH_BYTES = 1024 * 1024


@dataclass
class StagedFile:
    """An uploaded file on disk in the staging area (internal: never put `path` in a response)."""

    path: Path
    filename: str  # as the client sent it; sanitise before use
    content_type: str | None
    size: int

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class ReceivedUpload:
    fields: dict[str, list[str]] = field(default_factory=dict)
    file: StagedFile | None = None

    def field(self, name: str) -> str | None:
        """The first value of a text field, or None."""
        values = self.fields.get(name)
        return values[0] if values else None


class _PartState:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.header_field = b""
        self.header_value = b""
        self.name: str | None = None
        self.filename: str | None = None
        self.content_type: str | None = None
        self.is_target_file = False
        self.skip = False
        self.value = bytearray()


class _UploadSink:
    """Parser callbacks: collect fields, buffer file bytes for the async writer, count bytes."""

    def __init__(self, max_bytes: int, staging_dir: Path, file_field: str) -> None:
        self.max_bytes = max_bytes
        self.staging_dir = staging_dir
        self.file_field = file_field
        self.fields: dict[str, list[str]] = {}
        self.part = _PartState()
        self.file: StagedFile | None = None
        self.handle: IO[bytes] | None = None
        self.pending = bytearray()
        self.ended = False
        self.error: Exception | None = None
        self.form_bytes = 0
        self.parts = 0

    # python-multipart callbacks (synchronous) -------------------------------------------
    def on_part_begin(self) -> None:
        self.part = _PartState()
        self.parts += 1
        if self.parts > MAX_PARTS:
            self._fail(PayloadTooLarge("Too many form fields."))

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        if self._count_form(end - start):
            self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        if self._count_form(end - start):
            self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.part.header_field.strip().lower()] = self.part.header_value.strip()
        self.part.header_field = b""
        self.part.header_value = b""

    def on_headers_finished(self) -> None:
        part = self.part
        _kind, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        raw_name = options.get(b"name")
        part.name = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        raw_filename = options.get(b"filename")
        if raw_filename is not None:
            part.filename = raw_filename.decode("utf-8", "replace")
        content_type = part.headers.get(b"content-type")
        part.content_type = content_type.decode("latin-1") if content_type else None
        if part.name is None:
            part.skip = True
        elif part.name == self.file_field and part.filename is not None:
            if self.file is not None:
                self._fail(InvalidRequest("Send exactly one file.", field=self.file_field))
                return
            part.is_target_file = True
            self._open_file(part)
        elif part.filename is not None:
            part.skip = True  # an unexpected file part: ignore its bytes

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None or self.part.skip:
            return
        chunk = data[start:end]
        if self.part.is_target_file and self.file is not None:
            self.file.size += len(chunk)
            if self.file.size > self.max_bytes:
                limit_mb = self.max_bytes / (1024 * 1024)
                self._fail(
                    PayloadTooLarge(
                        f"The file is larger than the upload limit of {limit_mb:g} MB.",
                        field=self.file_field,
                    )
                )
                return
            self.pending += chunk
        elif self._count_form(len(chunk)):
            self.part.value += chunk

    def on_part_end(self) -> None:
        part = self.part
        if self.error is not None or part.skip or part.is_target_file or part.name is None:
            return
        self.fields.setdefault(part.name, []).append(part.value.decode("utf-8", "replace"))

    def on_end(self) -> None:
        self.ended = True

    # helpers ----------------------------------------------------------------------------
    def _count_form(self, size: int) -> bool:
        """Count `size` form bytes; False (and a 413) once the form budget is exceeded."""
        self.form_bytes += size
        if self.form_bytes > MAX_FORM_BYTES:
            limit_kib = MAX_FORM_BYTES // 1024
            self._fail(PayloadTooLarge(f"The form fields are larger than {limit_kib} KiB."))
            return False
        return self.error is None

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error

    def _open_file(self, part: _PartState) -> None:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        path = self.staging_dir / f"upload-{secrets.token_hex(12)}.part"
        self.handle = open(path, "xb")  # noqa: SIM115 - closed in close()
        self.file = StagedFile(
            path=path,
            filename=part.filename or "",
            content_type=part.content_type,
            size=0,
        )

    def take_pending(self) -> bytes:
        data = bytes(self.pending)
        self.pending.clear()
        return data

    def close(self, *, keep: bool) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if not keep and self.file is not None:
            self.file.discard()


def _boundary_of(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidRequest("Expected a multipart/form-data body.")
    return options[b"boundary"]


def _write(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)


async def receive_upload(
    request: Request,
    max_bytes: int,
    staging_dir: Path,
    *,
    file_field: str = FILE_FIELD,
) -> ReceivedUpload:
    """Stream a multipart body: `file_field` to a file under `staging_dir`, the rest as fields."""
    boundary = _boundary_of(request)
    sink = _UploadSink(max_bytes, staging_dir, file_field)
    callbacks = {
        "on_part_begin": sink.on_part_begin,
        "on_part_data": sink.on_part_data,
        "on_part_end": sink.on_part_end,
        "on_header_field": sink.on_header_field,
        "on_header_value": sink.on_header_value,
        "on_header_end": sink.on_header_end,
        "on_headers_finished": sink.on_headers_finished,
        "on_end": sink.on_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    keep = False
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            parser.write(chunk)
            if sink.error is not None:
                raise sink.error
            if sink.handle is not None and len(sink.pending) >= _FLUSH_BYTES:
                await asyncio.to_thread(_write, sink.handle, sink.take_pending())
            if sink.ended:
                break
        parser.finalize()
        if sink.error is not None:
            raise sink.error
        if not sink.ended:
            raise InvalidRequest("The multipart body is incomplete.")
        if sink.handle is not None and sink.pending:
            await asyncio.to_thread(_write, sink.handle, sink.take_pending())
        if sink.handle is not None:
            await asyncio.to_thread(sink.handle.flush)
        keep = True
    except MultipartParseError:
        raise InvalidRequest("The multipart body is malformed.") from None
    except ClientDisconnect:
        raise InvalidRequest("The client disconnected during the upload.") from None
    finally:
        sink.close(keep=keep)
    staged = sink.file
    if staged is not None and staged.size == 0:
        staged.discard()  # an empty file input (browsers send `filename=""`) is no file
        staged = None
    return ReceivedUpload(fields=sink.fields, file=staged)
