"""Progress of one running job: events stay live, database writes are throttled.

Every change of at least 0.1 % (and every stage change) is published at once as a
`transcription.progress` event. The job row is written at most once per `min_interval_s`
(0.5 s), by the shared `ProgressFlusher` thread once the interval is up, so the stored stage is
never much more than half a second behind, and a fast job costs no progress writes at all. The
engine's thread never waits for the database: its progress calls only change memory, and the
flusher writes outside the reporter's lock — so when the database hangs (a partition), the engine
still sees its cancel at once. Public job-log lines wait in the same buffer and go out with the next write (progress or
terminal), in its transaction. A rejected write means this worker no longer owns the job: the
handle is interrupted as `lost`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from scriberr.clock import utcnow
from scriberr.engine.base import ProgressCallback
from scriberr.events.broker import EventBroker
from scriberr.jobs import (
    STAGE_PROGRESS,
    EventType,
    JobStatus,
    ProgressRange,
    Stage,
    job_event,
)
from scriberr.orchestrator.handle import InterruptReason, JobHandle
from scriberr.orchestrator.sanitize import sanitize
from scriberr.persistence.job_log_repository import JobLogRepository, LogLine
from scriberr.persistence.queue_repository import Attempt, QueueRepository

MIN_EVENT_DELTA = 0.001

_log = logging.getLogger("scriberr.orchestrator")


class ProgressReporter:
    def __init__(
        self,
        handle: JobHandle,
        repository: QueueRepository,
        job_logs: JobLogRepository,
        broker: EventBroker,
        *,
        flusher: ProgressFlusher | None = None,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handle = handle
        self._flusher = flusher
        self._repository = repository
        self._job_logs = job_logs
        self._broker = broker
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # held by the one write in flight
        self._lines: list[LogLine] = []
        self._pending = False
        self._closed = False
        self.attempt: Attempt | None = None
        self.stage = Stage.PREPARING  # the claim stored it
        self.progress = STAGE_PROGRESS[Stage.PREPARING].start
        self._stored = (self.stage, self.progress)
        self._stored_at = clock()
        self._published = (self.stage, -1.0)

    # -- job log ------------------------------------------------------------------------------

    def log(self, message: str, level: str = "info") -> None:
        """Queue a sanitised public log line (stamped now); it is stored with the next write,
        at most `min_interval_s` later."""
        with self._lock:
            self._lines.append(LogLine(sanitize(message), level, utcnow()))
            self._defer_or_store()

    def take_lines(self, *extra: LogLine) -> list[LogLine]:
        with self._lock:
            lines, self._lines = [*self._lines, *extra], []
        return lines

    # -- progress -----------------------------------------------------------------------------

    def publish_current(self) -> None:
        """Announce the current state (the claim already stored it)."""
        with self._lock:
            self._publish()

    def enter(self, stage: Stage) -> None:
        """Move to `stage`, at the start of its progress range (`jobs.STAGE_PROGRESS`)."""
        self.update(stage, STAGE_PROGRESS[stage].start)

    def span(
        self, stage: Stage, low: float | None = None, high: float | None = None
    ) -> ProgressCallback:
        """A callback mapping an engine step's fraction (0-1) onto the progress range of
        `stage` (`jobs.STAGE_PROGRESS`), or onto [low, high] for a part of it."""
        whole = STAGE_PROGRESS[stage]
        progress_range = ProgressRange(
            whole.start if low is None else low, whole.end if high is None else high
        )

        def report(fraction: float) -> None:
            self.update(stage, progress_range.at(fraction))

        return report

    def update(self, stage: Stage, progress: float) -> None:
        with self._lock:
            if stage == self.stage:
                progress = max(progress, self.progress)
            self.stage, self.progress = stage, round(progress, 4)
            last_stage, last_progress = self._published
            if stage != last_stage or abs(self.progress - last_progress) >= MIN_EVENT_DELTA:
                self._publish()
            self._defer_or_store()

    def _dirty(self) -> bool:
        return (self.stage, self.progress) != self._stored or bool(self._lines)

    def _defer_or_store(self) -> None:
        """Hand the write to the flusher thread (caller holds the lock). Without a flusher
        (tests), write now once the interval is up."""
        if not self._dirty() or self._closed:
            return
        if self._flusher is None:
            if self._clock() - self._stored_at >= self._min_interval_s:
                stage, progress, lines = self.stage, self.progress, self._take_pending_lines()
                self._written(stage, progress, lines, self._write(stage, progress, lines))
        elif not self._pending:
            self._pending = True
            self._flusher.watch(self)

    def flush_if_due(self) -> bool:
        """Write a deferred change once its interval is up (outside the reporter's lock, so the
        engine's progress calls never wait for it); False when nothing is left to do."""
        with self._write_lock:
            with self._lock:
                if self._closed or not self._dirty():
                    self._pending = False
                    return False
                if self._clock() - self._stored_at < self._min_interval_s:
                    return True
                stage, progress, lines = self.stage, self.progress, self._take_pending_lines()
            try:
                owned = self._write(stage, progress, lines)
            except BaseException:
                with self._lock:  # keep the lines for the next (or the terminal) write
                    self._lines = lines + self._lines
                    self._pending = False
                raise
            with self._lock:
                self._written(stage, progress, lines, owned)
                if self._closed or not self._dirty():
                    self._pending = False
                    return False
                return True

    def close(self) -> None:
        """No more background writes (call before the terminal transition); waits for a write
        in flight, so its log lines are stored or back in the buffer for `take_lines`."""
        with self._lock:
            self._closed = True
        with self._write_lock:
            pass

    def _take_pending_lines(self) -> list[LogLine]:
        lines, self._lines = self._lines, []
        return lines

    def _write(self, stage: Stage, progress: float, lines: list[LogLine]) -> bool:
        """Store `stage`/`progress` and `lines`; False: the job was taken away."""
        job = self._handle.job
        return self._repository.progress(
            job.id,
            job.worker_id,
            progress,
            stage,
            execution_id=self.attempt.id if self.attempt else None,
            log_lines=lines,
        )

    def _written(self, stage: Stage, progress: float, lines: list[LogLine], owned: bool) -> None:
        """Record a finished write (caller holds the lock)."""
        self._stored = (stage, progress)
        self._stored_at = self._clock()
        if not owned:
            self._lines = lines + self._lines
            self._handle.interrupt(InterruptReason.LOST)

    def database_reachable(self) -> bool:
        return self._repository.database.reachable

    def _publish(self) -> None:
        job = self._handle.job
        self._published = (self.stage, self.progress)
        event = job_event(
            job.id,
            JobStatus.PROCESSING,
            self.progress,
            self.stage,
            type=EventType.TRANSCRIPTION_PROGRESS,
        )
        self._broker.publish(event.type, job.user_id, event.data, transcription_id=job.id)


class ProgressFlusher:
    """One background thread for all running jobs: writes each deferred progress change when
    its interval is up. Started on first use; `close()` stops it."""

    def __init__(self, tick_s: float = 0.1) -> None:
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._waiting: set[ProgressReporter] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, reporter: ProgressReporter) -> None:
        with self._lock:
            self._waiting.add(reporter)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="scriberr-progress", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            with self._lock:
                waiting = list(self._waiting)
            for reporter in waiting:
                try:
                    still_waiting = reporter.flush_if_due()
                except Exception:
                    if reporter.database_reachable():  # else `db.unreachable` said it once
                        _log.warning("progress write failed", exc_info=True)
                    still_waiting = False
                if not still_waiting:
                    with self._lock:
                        self._waiting.discard(reporter)
