"""UTC time helpers: one `utcnow()` and the RFC 3339 form used in every public payload."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-04-25T18:00:00Z` (with milliseconds when present), or None."""
    if moment is None:
        return None
    text = as_utc(moment).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
