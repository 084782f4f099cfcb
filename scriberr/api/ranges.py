"""Serving a file from disk with HTTP Range support, streamed in chunks (never read whole).

`file_response(path, media_type, range_header)`:
- no `Range` (or a unit other than bytes, or several ranges) → 200 with the whole file;
- `bytes=a-b`, `bytes=a-` (open) and `bytes=-n` (suffix) → 206 with `Content-Range`;
- anything unsatisfiable or malformed in the bytes unit → 416 (`RangeNotSatisfiable`, whose
  envelope response carries `Content-Range: bytes */<size>`).
Every response carries `Accept-Ranges: bytes`; `head_only` answers the same headers without a
body (HEAD).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi.responses import Response, StreamingResponse

from scriberr.services.errors import NotFound, RangeNotSatisfiable

CHUNK_BYTES = 256 * 1024
_SINGLE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
# Offsets longer than this are absurd for any file (and int() of thousands of digits is slow).
_MAX_DIGITS = 18
_UNSAFE_ASCII_NAME = re.compile(r"[^A-Za-z0-9 !#$&+.^_`|~()\[\]{},;=@-]")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable("The requested range is not satisfiable.", size=size, field="Range")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, None for "send everything"; raises 416 errors."""
    if header is None or not header.strip():
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None  # unknown unit: ignore the header (RFC 9110 §14.2)
    if "," in spec:
        return None  # several ranges: serving the whole representation is allowed
    match = _SINGLE.match(spec)
    if match is None or (not match.group(1) and not match.group(2)):
        raise unsatisfiable(size)
    first, last = match.group(1), match.group(2)
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        raise unsatisfiable(size)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise unsatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise unsatisfiable(size)
    return ByteRange(start, min(end, size - 1))


async def _stream(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def file_response(
    path: Path,
    media_type: str | None,
    range_header: str | None,
    *,
    filename: str | None = None,
    head_only: bool = False,
) -> Response:
    """Stream `path` (whole or one range). Raises `NotFound` when the bytes are gone."""
    try:
        size = path.stat().st_size
    except OSError:
        raise NotFound("The audio for this item is not available.") from None
    selected = parse_range(range_header, size)
    headers = {"Accept-Ranges": "bytes"}
    if filename:
        headers["Content-Disposition"] = content_disposition("inline", filename)
    media = media_type or "application/octet-stream"
    start, length, status = 0, size, 200
    if selected is not None:
        start, length, status = selected.start, selected.length, 206
        headers["Content-Range"] = f"bytes {selected.start}-{selected.end}/{size}"
    headers["Content-Length"] = str(length)
    if head_only:
        return Response(status_code=status, media_type=media, headers=headers)
    return StreamingResponse(
        _stream(path, start, length), status_code=status, media_type=media, headers=headers
    )


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266 `Content-Disposition`: an ASCII `filename` fallback plus the exact name as RFC
    5987 `filename*` (UTF-8, percent-encoded). Control characters never reach the header."""
    printable = "".join(ch for ch in filename if ch.isprintable()).strip() or "audio"
    fallback = _UNSAFE_ASCII_NAME.sub("_", printable)
    encoded = quote(printable, safe="")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
