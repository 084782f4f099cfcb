"""Server-sent event streams: one job's progress and a user's global event feed. Both stay open
until the client leaves.

Per-job stream: the broker subscription is opened before the job row is read, so no event can
fall between the snapshot and the live feed. The stream sends the partial segments of the running
attempt decoded so far (`transcription.segment`, from the database, after the one named by
`Last-Event-ID`), then the current state (or the terminal event at once when the job already
finished), then live segments and every `transcription.progress`, then the terminal event.
Segments are always read from the database (the orchestrator stores each before publishing it; a
broker segment event only says "read again"), so a stream never duplicates or skips one. Every
frame has an SSE id `<execution id>:<segments delivered>` (`-:0` before any segment). Jobs run by
a separate `scriberr worker` process publish into that process's broker; on PostgreSQL the
signals relay (`queue.signals`) brings those events into ours at full detail, and on SQLite they
stay there. So whenever no broker event arrives for `POLL_INTERVAL_S` the stream reads the job
row: a terminal row ends the stream; a changed state is emitted only when the broker may have
missed it — the job runs in another process and the relay was not connected all the time since
the previous read (SQLite, or a listener outage: the row is the safety net, and nothing is sent
twice or out of order because relayed events and row reads never both report live progress).
After the terminal event the stream does not end
(browser clients such as upstream Scriberr's frontend would reconnect in a loop): it sends
`: heartbeat` comments until the client leaves.

Global stream: every event the broker publishes for the user, once each, with the broker's event
ID as the SSE `id:`. The stream also reads the user's recently changed job rows about once a
second and synthesises `transcription.progress` / terminal events (SSE ids `db-<n>`) for states it
has not delivered yet — for jobs running in another process whose events cannot reach our broker
(SQLite, or the PostgreSQL relay was down since the previous read), and, always, a terminal state
whose event has not arrived; jobs running in this process are left to the broker. Job states are
tracked per job, so nothing is delivered twice.

Both streams send a `: heartbeat` comment whenever nothing else was sent for
`SCRIBERR_SSE_HEARTBEAT` (default 15 s), so proxies and clients see the connection is alive.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from scriberr.clock import utcnow
from scriberr.events.broker import Event, Subscription
from scriberr.jobs import (
    JOB_EVENT_KEYS,
    STATE_EVENTS,
    TERMINAL_EVENTS,
    EventType,
    JobStatus,
    is_terminal,
    job_event_data,
    segment_event_data,
    state_event_type,
)
from scriberr.services.transcriptions import TranscriptionRecord, TranscriptionService

if TYPE_CHECKING:
    from scriberr.bootstrap import Core

POLL_INTERVAL_S = 1.0
_DISCONNECT_CHECK_S = 1.0
RETRY_MS = 3000
# Partial segments are for the job's own stream only: the global feed stays small.
GLOBAL_EVENT_TYPES = frozenset(EventType) - {EventType.TRANSCRIPTION_SEGMENT}
HEARTBEAT_FRAME = ": heartbeat\n\n"
_OVERLAP = timedelta(seconds=2)  # re-read recent changes: commit times and clocks may lag


def sse_frame(event_type: str, data: dict[str, Any], event_id: int | str | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event_type}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return "\n".join(lines) + "\n\n"


def job_state(
    record: TranscriptionRecord, public_error: Callable[[str | None], str | None]
) -> dict[str, Any]:
    data = job_event_data(record.id, record.status, record.progress, record.progress_stage)
    if record.status == JobStatus.FAILED:
        data["error"] = public_error(record.error)  # present even when None
    return data


def _relay_covered(core: Core, since: float) -> bool:
    """True when every other process's events have reached our broker without a gap since the
    monotonic time `since` (PostgreSQL, listener connected all along)."""
    signals = core.signals
    live_since = signals.events_live_since() if signals is not None else None
    return live_since is not None and live_since <= since


def _key(data: dict[str, Any]) -> tuple[Any, ...]:
    progress = data.get("progress")
    if isinstance(progress, int | float):
        progress = round(float(progress), 4)
    return (data.get("status"), progress, data.get("stage"))


class _SegmentCursor:
    """Which partial segments of the running attempt one per-job stream has delivered, and the
    SSE id that says so: `<execution id>:<count>` (see docs/API-JOBS.md)."""

    def __init__(self, last_event_id: str | None) -> None:
        execution, separator, count = (last_event_id or "").strip().rpartition(":")
        valid = bool(separator and execution and count.isdigit())
        self.execution: str | None = execution if valid else None
        self.sent = int(count) if valid else 0

    @property
    def event_id(self) -> str:
        return f"{self.execution or '-'}:{self.sent}"

    def new_frames(self, service: TranscriptionService, job_id: str) -> list[str]:
        """Frames for the stored segments this stream has not delivered yet, in order. A new
        attempt (another execution id) starts again from its first segment."""
        rows = service.partial_segments(job_id, self.sent if self.execution else 0)
        if rows and rows[0].execution_id != self.execution:
            if rows[0].index != 0:
                rows = service.partial_segments(job_id, 0)
            self.execution, self.sent = rows[0].execution_id, 0
        frames = []
        for row in rows:
            if row.execution_id != self.execution or row.index != self.sent:
                break  # not stored yet (or another attempt began): read again later
            self.sent += 1
            data = segment_event_data(job_id, row.index, row.data)
            frames.append(sse_frame(EventType.TRANSCRIPTION_SEGMENT, data, self.event_id))
        return frames


async def job_event_stream(
    request: Request,
    core: Core,
    user_id: str,
    record: TranscriptionRecord,
    subscription: Subscription,
) -> AsyncIterator[str]:
    heartbeat_s = core.config.sse_heartbeat_s
    yield f"retry: {RETRY_MS}\n\n"
    with subscription:
        async for frame in _follow_job(request, core, user_id, record, subscription, heartbeat_s):
            if frame is None:  # the client left
                return
            yield frame
    while await _still_connected(request, heartbeat_s):
        yield HEARTBEAT_FRAME


async def _still_connected(request: Request, wait_s: float) -> bool:
    """Wait `wait_s` (checking about once a second whether the client left); False if it did."""
    deadline = time.monotonic() + wait_s
    while (remaining := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(remaining, _DISCONNECT_CHECK_S))
        if await request.is_disconnected():
            return False
    return True


async def _follow_job(
    request: Request,
    core: Core,
    user_id: str,
    record: TranscriptionRecord,
    subscription: Subscription,
    heartbeat_s: float,
) -> AsyncIterator[str | None]:
    """The job's segment and state frames up to and including its terminal event (None: client
    left)."""
    service = core.transcriptions
    cursor = _SegmentCursor(request.headers.get("last-event-id"))
    if record.is_terminal:
        data = job_state(record, service.public_error)
        yield sse_frame(state_event_type(record.status), data, cursor.event_id)
        return
    for frame in await run_in_threadpool(cursor.new_frames, service, record.id):
        yield frame
    current = job_state(record, service.public_error)
    yield sse_frame(EventType.TRANSCRIPTION_PROGRESS, current, cursor.event_id)
    last = _key(current)
    last_sent = synced_at = time.monotonic()
    wait_s = min(POLL_INTERVAL_S, heartbeat_s)
    while True:
        event = await subscription.next(wait_s)
        if event is not None:
            # segments are stored before they are published: read them from the store, in order
            if (
                event.type == EventType.TRANSCRIPTION_SEGMENT
                or event.type in TERMINAL_EVENTS.values()
            ):
                for frame in await run_in_threadpool(cursor.new_frames, service, record.id):
                    last_sent = time.monotonic()
                    yield frame
            state_frame, last, done = _from_event(event, last, cursor.event_id)
            if state_frame is not None:
                last_sent = time.monotonic()
                yield state_frame
            if done:
                return
            continue
        if await request.is_disconnected():
            yield None
            return
        covered = _relay_covered(core, synced_at)
        synced_at = time.monotonic()
        latest = await run_in_threadpool(service.find, user_id, record.id)
        if latest is None:  # deleted meanwhile: nothing more will happen
            return
        data = job_state(latest, service.public_error)
        for frame in await run_in_threadpool(cursor.new_frames, service, record.id):
            last_sent = time.monotonic()
            yield frame
        if latest.is_terminal:
            yield sse_frame(state_event_type(latest.status), data, cursor.event_id)
            return
        if _key(data) != last and not covered and record.id not in service.running_here():
            last = _key(data)  # (a job running here, or relayed, is reported by the broker)
            last_sent = time.monotonic()
            yield sse_frame(EventType.TRANSCRIPTION_PROGRESS, data, cursor.event_id)
        elif time.monotonic() - last_sent >= heartbeat_s:
            last_sent = time.monotonic()
            yield HEARTBEAT_FRAME


def _from_event(
    event: Event, last: tuple[Any, ...], event_id: str
) -> tuple[str | None, tuple[Any, ...], bool]:
    """(frame to send or None, new last-state key, whether the stream is done)."""
    data = {key: event.data.get(key) for key in JOB_EVENT_KEYS}
    if isinstance(data["progress"], int | float):
        data["progress"] = round(float(data["progress"]), 4)
    if event.type in TERMINAL_EVENTS.values():
        if "error" in event.data:
            data["error"] = event.data["error"]
        return sse_frame(event.type, data, event_id), _key(data), True
    if event.type == EventType.TRANSCRIPTION_PROGRESS and _key(data) != last:
        if _behind(_key(data), last):
            return None, last, False
        return sse_frame(event.type, data, event_id), _key(data), False
    return None, last, False


def _behind(state: tuple[Any, ...], last: tuple[Any, ...]) -> bool:
    """A progress event older than what the stream already sent (same status and stage, less
    progress): a relayed event that took longer than the row write the stream started from."""
    status, progress, stage = state
    last_status, last_progress, last_stage = last
    if (status, stage) != (last_status, last_stage):
        return False
    return (
        isinstance(progress, float)
        and isinstance(last_progress, float)
        and progress < last_progress
    )


class _GlobalFeed:
    """Per-connection state of the global stream: the last state delivered for every job."""

    def __init__(self, public_error: Callable[[str | None], str | None]) -> None:
        self._public_error = public_error
        self._known: dict[str, tuple[Any, ...]] = {}
        self._synthesised = 0

    def from_broker(self, event: Event) -> str | None:
        if event.type not in GLOBAL_EVENT_TYPES:
            return None
        if event.transcription_id and "status" in event.data:
            state = _key(event.data)
            repeated = self._known.get(event.transcription_id) == state
            self._known[event.transcription_id] = state
            if repeated and event.type in STATE_EVENTS:
                return None  # already delivered from the database
        return sse_frame(event.type, dict(event.data), event.id)

    def from_rows(
        self, records: list[TranscriptionRecord], running_here: set[str], relayed: bool = False
    ) -> list[str]:
        """Frames for states not delivered yet; with `relayed` (every process's events reach
        our broker) only terminal states, in case their event has not arrived yet."""
        frames = []
        for record in records:
            if record.id in running_here or (relayed and not is_terminal(record.status)):
                continue  # our broker reports it
            data = job_state(record, self._public_error)
            previous = self._known.get(record.id)
            if previous == _key(data) or (previous is not None and is_terminal(previous[0])):
                continue
            self._known[record.id] = _key(data)
            if previous is None and record.status == JobStatus.QUEUED:
                continue  # created here (the broker announced it) or not started yet
            self._synthesised += 1
            event_type = state_event_type(record.status)
            frames.append(sse_frame(event_type, data, f"db-{self._synthesised}"))
        return frames


async def user_event_stream(
    request: Request, core: Core, user_id: str, subscription: Subscription
) -> AsyncIterator[str]:
    """Every broker event of the user once, plus events synthesised from the database for jobs
    that another process runs (their broker is not ours). Job states are tracked per job, so a
    state seen through the broker is never repeated from the database and vice versa."""
    service = core.transcriptions
    heartbeat_s = core.config.sse_heartbeat_s
    wait_s = min(POLL_INTERVAL_S, heartbeat_s)
    feed = _GlobalFeed(service.public_error)
    watermark = utcnow() - _OVERLAP
    next_poll = time.monotonic() + POLL_INTERVAL_S
    last_sent = synced_at = time.monotonic()
    with subscription:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            event = await subscription.next(wait_s)
            frames = [] if event is None else [feed.from_broker(event)]
            if time.monotonic() >= next_poll:
                if await request.is_disconnected():
                    return
                checked_at = utcnow()
                relayed = _relay_covered(core, synced_at)
                synced_at = time.monotonic()
                changed = await run_in_threadpool(service.changed_since, user_id, watermark)
                running_here = set(await run_in_threadpool(service.running_here))
                watermark = checked_at - _OVERLAP
                next_poll = time.monotonic() + POLL_INTERVAL_S
                frames += feed.from_rows(changed, running_here, relayed)
            for frame in frames:
                if frame is not None:
                    last_sent = time.monotonic()
                    yield frame
            if time.monotonic() - last_sent >= heartbeat_s:
                last_sent = time.monotonic()
                yield HEARTBEAT_FRAME
