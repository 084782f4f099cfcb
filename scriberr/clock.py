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
    """`2026-04-25T18:00:00.000Z` (always milliseconds, truncated), or None.

    Naive datetimes (as SQLite returns them) are UTC. This runs for every time field of every
    listed item, so it slices the plain `isoformat()` (several times faster than
    `isoformat(timespec=...)` on an aware datetime) and gives the same text."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.isoformat()
    return text[:23] + "Z" if len(text) > 19 else text + ".000Z"


class Rfc3339Memo(dict[datetime, str]):
    """`memo[moment]` is `rfc3339(moment)`, each distinct moment formatted once: a page of jobs
    repeats its times (a job is queued when it is created, and canceled when last updated)."""

    def __missing__(self, moment: datetime) -> str:
        text = self[moment] = rfc3339(moment) or ""
        return text
