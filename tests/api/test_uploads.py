"""The streaming multipart reader: fields (repeated names kept), the file written to staging,
and the size limit enforced while the body is still arriving."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from scriberr.api.uploads import receive_upload
from scriberr.services.errors import InvalidRequest, PayloadTooLarge

BOUNDARY = "bench-boundary-42"


def _field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def _file_head(name: str = "file", filename: str = "a.wav") -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
        f'name="{name}"; filename="{filename}"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()


END = f"\r\n--{BOUNDARY}--\r\n".encode()


class ChunkFeed:
    """An ASGI `receive` that hands out chunks one at a time and counts what was taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.taken >= len(self.chunks):
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = self.chunks[self.taken]
        self.taken += 1
        return {
            "type": "http.request",
            "body": chunk,
            "more_body": self.taken < len(self.chunks),
        }


def _request(feed: ChunkFeed, content_type: str | None = None) -> Request:
    value = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", value.encode())],
        "query_string": b"",
    }
    return Request(scope, feed)


def _split(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_fields_and_file_are_received(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000
    body = (
        _field("title", "Ünïcode title")
        + _field("timestamp_granularities[]", "word")
        + _field("timestamp_granularities[]", "segment")
        + _file_head()
        + payload
        + END
    )
    feed = ChunkFeed(list(_split(body, 7000)))
    upload = asyncio.run(receive_upload(_request(feed), 10_000_000, tmp_path / "staging"))
    assert upload.fields["title"] == ["Ünïcode title"]
    assert upload.fields["timestamp_granularities[]"] == ["word", "segment"]
    assert upload.field("missing") is None
    assert upload.file is not None
    assert upload.file.filename == "a.wav" and upload.file.content_type == "audio/wav"
    assert upload.file.size == len(payload)
    assert upload.file.path.read_bytes() == payload
    assert upload.file.path.parent == tmp_path / "staging"
    upload.file.discard()
    assert not upload.file.path.exists()


def test_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    chunk = b"\0" * 65536
    chunks = [_file_head(), *([chunk] * 200), END]  # ~13 MB offered, limit 1 MB
    feed = ChunkFeed(chunks)
    staging = tmp_path / "staging"
    with pytest.raises(PayloadTooLarge) as error:
        asyncio.run(receive_upload(_request(feed), 1024 * 1024, staging))
    assert error.value.field == "file"
    assert feed.taken < 30  # stopped reading soon after the limit, not at the end
    assert list(staging.iterdir()) == []


def test_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    payload = b"x" * 4096
    feed = ChunkFeed([_file_head() + payload + END])
    upload = asyncio.run(receive_upload(_request(feed), 4096, tmp_path))
    assert upload.file is not None and upload.file.size == 4096


def test_malformed_bodies_leave_nothing(tmp_path: Path) -> None:
    truncated = ChunkFeed([_file_head(), b"partial data"])
    with pytest.raises(InvalidRequest):
        asyncio.run(receive_upload(_request(truncated), 10_000, tmp_path))
    assert list(tmp_path.iterdir()) == []
    two_files = ChunkFeed([_file_head() + b"a\r\n" + _file_head() + b"b" + END])
    with pytest.raises(InvalidRequest):
        asyncio.run(receive_upload(_request(two_files), 10_000, tmp_path))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidRequest):
        asyncio.run(receive_upload(_request(ChunkFeed([b"{}"]), "application/json"), 10, tmp_path))


def test_oversized_text_fields_are_rejected(tmp_path: Path) -> None:
    feed = ChunkFeed([_field("title", "x" * (1024 * 1024 + 10)) + END])
    with pytest.raises(PayloadTooLarge):
        asyncio.run(receive_upload(_request(feed), 10, tmp_path))


def test_an_empty_file_part_is_no_file(tmp_path: Path) -> None:
    feed = ChunkFeed([_file_head(filename="") + END])
    upload = asyncio.run(receive_upload(_request(feed), 100, tmp_path))
    assert upload.file is None
    assert list(tmp_path.iterdir()) == []
