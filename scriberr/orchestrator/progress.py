"""Progress of one running job: events stay live, database writes are throttled.

Every change of at least 0.1 % is published as a `transcription.progress` event. The job row is
written on every stage change and otherwise at most every `min_interval_s` (0.5 s) when progress
moved by `min_delta` (1 %) or more. A rejected write means this worker no longer owns the job:
the handle is interrupted as `lost`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from scriberr.engine.base import ProgressCallback
from scriberr.events.broker import EventBroker
from scriberr.orchestrator.handle import JobHandle
from scriberr.persistence.queue_repository import QueueRepository

MIN_EVENT_DELTA = 0.001


class ProgressReporter:
    def __init__(
        self,
        handle: JobHandle,
        repository: QueueRepository,
        broker: EventBroker,
        *,
        min_interval_s: float = 0.5,
        min_delta: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handle = handle
        self._repository = repository
        self._broker = broker
        self._min_interval_s = min_interval_s
        self._min_delta = min_delta
        self._clock = clock
        self._lock = threading.Lock()
        self.stage = "preparing"
        self.progress = 0.05
        self._stored = (self.stage, self.progress)
        self._stored_at = clock()
        self._published = -1.0

    def publish_current(self) -> None:
        """Announce the current state (the claim already stored it)."""
        with self._lock:
            self._publish()

    def enter(self, stage: str, progress: float) -> None:
        """Start a stage: always stored and published."""
        self.update(stage, progress)

    def span(self, stage: str, low: float, high: float) -> ProgressCallback:
        """A callback mapping an engine step's fraction (0-1) onto [low, high] of `stage`."""

        def report(fraction: float) -> None:
            bounded = min(1.0, max(0.0, float(fraction)))
            self.update(stage, low + (high - low) * bounded)

        return report

    def update(self, stage: str, progress: float) -> None:
        with self._lock:
            progress = round(progress if stage != self.stage else max(progress, self.progress), 4)
            self.stage, self.progress = stage, progress
            if abs(progress - self._published) >= MIN_EVENT_DELTA or stage != self._stored[0]:
                self._publish()
            if self._should_store():
                self._store()

    def _should_store(self) -> bool:
        stored_stage, stored_progress = self._stored
        if self.stage != stored_stage:
            return True
        return (
            self.progress - stored_progress >= self._min_delta
            and self._clock() - self._stored_at >= self._min_interval_s
        )

    def _store(self) -> None:
        job = self._handle.job
        owned = self._repository.progress(job.id, job.worker_id, self.progress, self.stage)
        self._stored = (self.stage, self.progress)
        self._stored_at = self._clock()
        if not owned:
            self._handle.interrupt("lost")

    def _publish(self) -> None:
        job = self._handle.job
        self._published = self.progress
        self._broker.publish(
            "transcription.progress",
            job.user_id,
            {"id": job.id, "status": "processing", "progress": self.progress, "stage": self.stage},
            transcription_id=job.id,
        )
