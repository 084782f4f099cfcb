"""Serving a file from disk with HTTP Range support, streamed in chunks (never read whole).

`file_response(path, media_type, range_header)`:
- no `Range` (or a unit other than bytes, or several ranges) → 200 with the whole file;
- `bytes=a-b`, `bytes=a-` (open) and `bytes=-n` (suffix) → 206 with `Content-Range`;
- anything unsatisfiable or malformed in the bytes unit → 416 (`RangeNotSatisfiable`, whose
  envelope response carries `Content-Range: bytes */<size>`).
Every response carries `Accept-Ranges: bytes`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
from fastapi.responses import StreamingResponse

from scriberr.services.errors import NotFound, RangeNotSatisfiable

CHUNK_BYTES = 256 * 1024
_SINGLE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


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
) -> StreamingResponse:
    """Stream `path` (whole or one range). Raises `NotFound` when the bytes are gone."""
    try:
        size = path.stat().st_size
    except OSError:
        raise NotFound("The audio for this item is not available.") from None
    selected = parse_range(range_header, size)
    headers = {"Accept-Ranges": "bytes"}
    if filename:
        safe = filename.replace('"', "").replace("\\", "")
        ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
        headers["Content-Disposition"] = f'inline; filename="{ascii_name}"'
    media = media_type or "application/octet-stream"
    if selected is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_stream(path, 0, size), media_type=media, headers=headers)
    headers["Content-Length"] = str(selected.length)
    headers["Content-Range"] = f"bytes {selected.start}-{selected.end}/{size}"
    return StreamingResponse(
        _stream(path, selected.start, selected.length),
        status_code=206,
        media_type=media,
        headers=headers,
    )
