"""`JobHandle`: one claimed job running in this process, with its cancel token and the reason
it was interrupted (if it was)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from scriberr.engine.base import CancelToken
from scriberr.persistence.queue_repository import ClaimedJob


class InterruptReason(StrEnum):
    """Why a running job's work was stopped."""

    CANCELED = "canceled"  # a user canceled it (the row is already `canceled`)
    SHUTDOWN = "shutdown"  # this process is stopping (the job goes back to `queued`)
    LOST = "lost"  # this worker no longer owns the row (lease taken over, canceled elsewhere)
    # this process could not renew its heartbeat/lease in time (database unreachable): its engine
    # stops before another worker may take the job over; the job is handed back if still ours
    CUT_OFF = "cut_off"


@dataclass
class JobHandle:
    job: ClaimedJob
    cancel: CancelToken = field(default_factory=CancelToken)
    reason: InterruptReason | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # `time.monotonic()` taken before the last request that (successfully) set this job's lease:
    # the claim, then each renewal. The lease runs out no earlier than this plus the lease time.
    renewed_at: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def interrupt(self, reason: InterruptReason) -> None:
        """Stop the job's work; the first reason given wins."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self.cancel.cancel()
