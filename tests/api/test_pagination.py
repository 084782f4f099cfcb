"""Cursor pagination helpers: limit clamping, sort parsing, cursor round trips and rejection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scriberr.services.errors import InvalidRequest
from scriberr.services.pagination import (
    Cursor,
    clamp_limit,
    decode_cursor,
    encode_cursor,
    parse_sort,
)


def test_limits_are_defaulted_and_capped() -> None:
    assert clamp_limit(None) == 50
    assert clamp_limit(10**30) == 200
    assert clamp_limit(0) == 1 and clamp_limit(-5) == 1
    assert clamp_limit(17) == 17


def test_sort_parsing() -> None:
    spec = parse_sort("-title", ("created_at", "title"), "-created_at")
    assert (spec.field, spec.descending, spec.name) == ("title", True, "-title")
    assert parse_sort(None, ("created_at",), "-created_at").descending is True
    with pytest.raises(InvalidRequest) as error:
        parse_sort("size", ("created_at",), "-created_at")
    assert error.value.field == "sort"


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("-created_at", datetime(2026, 4, 25, 18, 0, tzinfo=UTC)),
        ("title", "Title"),
        ("title", None),
    ],
)
def test_cursor_round_trip(sort: str, value: object) -> None:
    spec = parse_sort(sort, ("created_at", "title"), "title")
    text = encode_cursor(Cursor(sort=sort, value=value, id="file_1"))  # type: ignore[arg-type]
    assert text.isascii() and "file_1" not in text
    decoded = decode_cursor(text, spec)
    assert decoded == Cursor(sort=sort, value=value, id="file_1")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["garbage", "e30", "WyJ0aXRsZSJd", "!!!!", "W10"])
def test_bad_cursors_are_invalid_requests(text: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        decode_cursor(text, parse_sort("title", ("title",), "title"))
    assert error.value.field == "cursor"


def test_cursor_for_another_sort_is_rejected() -> None:
    text = encode_cursor(Cursor(sort="title", value="a", id="x"))
    with pytest.raises(InvalidRequest):
        decode_cursor(text, parse_sort("-title", ("title",), "title"))
    assert decode_cursor(None, parse_sort("title", ("title",), "title")) is None
