"""Progress of one running job: events stay live, database writes are throttled.

Every change of at least 0.1 % (and every stage change) is published at once as a
`transcription.progress` event. The job row is written at most once per `min_interval_s`
(0.5 s): a change that arrives sooner is written by a one-shot timer when the interval is up, so
the stored stage is never more than half a second behind, and a fast job costs no progress writes
at all. Public job-log lines wait in the same buffer and go out with the next write (progress or
terminal), in its transaction. A rejected write means this worker no longer owns the job: the
handle is interrupted as `lost`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from scriberr.engine.base import ProgressCallback
from scriberr.events.broker import EventBroker
from scriberr.orchestrator.handle import JobHandle
from scriberr.orchestrator.sanitize import sanitize
from scriberr.persistence.job_log_repository import JobLogRepository, LogLine
from scriberr.persistence.queue_repository import Attempt, QueueRepository

MIN_EVENT_DELTA = 0.001


class ProgressReporter:
    def __init__(
        self,
        handle: JobHandle,
        repository: QueueRepository,
        job_logs: JobLogRepository,
        broker: EventBroker,
        *,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handle = handle
        self._repository = repository
        self._job_logs = job_logs
        self._broker = broker
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: list[LogLine] = []
        self._timer: threading.Timer | None = None
        self._closed = False
        self.attempt: Attempt | None = None
        self.stage = "preparing"  # the claim stored preparing / 0.05
        self.progress = 0.05
        self._stored = (self.stage, self.progress)
        self._stored_at = clock()
        self._published = (self.stage, -1.0)

    # -- job log ------------------------------------------------------------------------------

    def log(self, message: str, level: str = "info") -> None:
        """Queue a sanitised public log line; it is stored with the next write."""
        with self._lock:
            self._lines.append(LogLine(sanitize(message), level))

    def take_lines(self, *extra: LogLine) -> list[LogLine]:
        with self._lock:
            lines, self._lines = [*self._lines, *extra], []
        return lines

    def drop_lines(self) -> None:
        """Store what is still buffered on its own (used when the terminal write was rejected)."""
        lines = self.take_lines()
        if lines:
            self._job_logs.append_many(
                self._handle.job.id, lines, execution_id=self.attempt.id if self.attempt else None
            )

    # -- progress -----------------------------------------------------------------------------

    def publish_current(self) -> None:
        """Announce the current state (the claim already stored it)."""
        with self._lock:
            self._publish()

    def enter(self, stage: str, progress: float) -> None:
        self.update(stage, progress)

    def span(self, stage: str, low: float, high: float) -> ProgressCallback:
        """A callback mapping an engine step's fraction (0-1) onto [low, high] of `stage`."""

        def report(fraction: float) -> None:
            bounded = min(1.0, max(0.0, float(fraction)))
            self.update(stage, low + (high - low) * bounded)

        return report

    def update(self, stage: str, progress: float) -> None:
        with self._lock:
            if stage == self.stage:
                progress = max(progress, self.progress)
            self.stage, self.progress = stage, round(progress, 4)
            last_stage, last_progress = self._published
            if stage != last_stage or abs(self.progress - last_progress) >= MIN_EVENT_DELTA:
                self._publish()
            if (self.stage, self.progress) == self._stored:
                return
            wait = self._min_interval_s - (self._clock() - self._stored_at)
            if wait <= 0:
                self._store()
            elif self._timer is None and not self._closed:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def close(self) -> None:
        """No more background writes (call before the terminal transition)."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed and (self.stage, self.progress) != self._stored:
                self._store()

    def _store(self) -> None:
        """Write the current state (caller holds the lock)."""
        job = self._handle.job
        lines, self._lines = self._lines, []
        owned = self._repository.progress(
            job.id,
            job.worker_id,
            self.progress,
            self.stage,
            execution_id=self.attempt.id if self.attempt else None,
            log_lines=lines,
        )
        self._stored = (self.stage, self.progress)
        self._stored_at = self._clock()
        if not owned:
            self._lines = lines + self._lines
            self._handle.interrupt("lost")

    def _publish(self) -> None:
        job = self._handle.job
        self._published = (self.stage, self.progress)
        self._broker.publish(
            "transcription.progress",
            job.user_id,
            {"id": job.id, "status": "processing", "progress": self.progress, "stage": self.stage},
            transcription_id=job.id,
        )
