"""UTC time helpers: one `utcnow()` and the RFC 3339 form used in every public payload."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-04-25T18:00:00.000Z` (always milliseconds, truncated), or None.

    Naive datetimes (as SQLite returns them) are UTC."""
    return None if moment is None else rfc3339_text(moment)


@lru_cache(maxsize=8192)
def rfc3339_text(moment: datetime) -> str:
    """`rfc3339` of a time that is never None, remembered for the most recent 8192 moments.

    This runs for every time field of every listed item (seven per job), and a client polling a
    listing asks for the same immutable moments again and again; a cache hit costs a fraction of
    formatting. It is a pure function of an immutable value, so the cache can never be stale.
    Formatting slices the plain `isoformat()` (several times faster than
    `isoformat(timespec=...)` on an aware datetime) and gives the same text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.isoformat()
    return text[:23] + "Z" if len(text) > 19 else text + ".000Z"
