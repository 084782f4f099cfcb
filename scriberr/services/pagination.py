"""Cursor pagination: `limit` clamping, opaque keyset cursors (sort key + id) and the `Page` result.

A cursor encodes the sort it was made for, the last row's sort value and its id; a cursor used with
a different sort, or one that does not decode, is an `InvalidRequest` on the `cursor` field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from scriberr.clock import as_utc
from scriberr.services.errors import InvalidRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
SortValue = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: its sort value and id, for one sort."""

    sort: str
    value: SortValue
    id: str


@dataclass(frozen=True)
class SortSpec:
    """A parsed `sort` parameter: `-created_at` → field `created_at`, descending."""

    name: str
    field: str
    descending: bool


@dataclass(frozen=True)
class PageRequest:
    """What a repository needs to fetch one page."""

    limit: int
    sort: SortSpec
    after: Cursor | None = None
    filters: dict[str, object] = field(default_factory=dict)


def clamp_limit(limit: int | None) -> int:
    """Default 50; values above 200 are capped, values below 1 become 1."""
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, int(limit)))


def parse_sort(sort: str | None, allowed: Sequence[str], default: str) -> SortSpec:
    """Validate `sort` against `allowed` fields (each usable with a leading `-`)."""
    name = (sort or default).strip()
    field_name = name.removeprefix("-")
    if field_name not in allowed:
        choices = ", ".join(f"{f}, -{f}" for f in allowed)
        raise InvalidRequest(f"sort must be one of: {choices}.", field="sort")
    return SortSpec(name=name, field=field_name, descending=name.startswith("-"))


def encode_cursor(cursor: Cursor) -> str:
    value: object = cursor.value
    if isinstance(value, datetime):
        value = {"dt": as_utc(value).isoformat()}
    payload = json.dumps([cursor.sort, value, cursor.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(text: str | None, sort: SortSpec) -> Cursor | None:
    """Decode a cursor made for `sort`; None when `text` is empty.

    Strict: the payload must be `[sort, value, id]` with a string id, a date value (`{"dt":
    iso}`) for `*_at` sorts and a string (or null) otherwise; anything else → 400 on `cursor`.
    """
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(raw, list) or len(raw) != 3:
            raise ValueError("cursor shape")
        sort_name, value, row_id = raw
        if not isinstance(sort_name, str) or not isinstance(row_id, str) or len(row_id) > 100:
            raise ValueError("cursor shape")
        value = _cursor_value(sort.field, value)
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("cursor is not valid.", field="cursor") from None
    if sort_name != sort.name:
        raise InvalidRequest("cursor was made for a different sort.", field="cursor")
    return Cursor(sort=sort_name, value=value, id=row_id)


def _cursor_value(field_name: str, value: object) -> SortValue:
    """The cursor's sort value, checked against the type of the sort field."""
    if field_name.endswith("_at"):
        if not isinstance(value, dict) or set(value) != {"dt"} or not isinstance(value["dt"], str):
            raise ValueError("cursor date")
        return as_utc(datetime.fromisoformat(value["dt"]))
    if value is None or (isinstance(value, str) and len(value) <= 1000):
        return value
    raise ValueError("cursor value")


def page_from_rows(rows: Sequence[T], limit: int, sort: SortSpec) -> tuple[list[T], str | None]:
    """Given up to `limit + 1` rows (fetch one extra), the page items and the next cursor.

    Rows are read with `getattr(row, sort.field)` and `getattr(row, "id")`.
    """
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    last = items[-1]
    cursor = Cursor(sort=sort.name, value=getattr(last, sort.field), id=last.id)  # type: ignore[attr-defined]
    return items, encode_cursor(cursor)
