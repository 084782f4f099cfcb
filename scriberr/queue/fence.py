"""`Fence`: when must this process stop its own jobs because it may have been cut off?

Another worker may take a job over (SPEC §3) once this process's heartbeat is older than the
worker timeout (`TRANSCRIPTION_WORKER_TIMEOUT`), or once the job's lease has run out. Both are
judged by the other worker, from timestamps this process wrote. So this process stops the engine
of a job by itself — without asking the database, which may be unreachable or hang — once the
last *successful* heartbeat (or the job's last successful lease renewal) is older than
`FENCE_FRACTION` of that time, measured on its own monotonic clock from the moment the request
was *sent* (the timestamp the database stored is taken after that, so it is never older).

The margin (a quarter of the timeout: 7.5 s of the default 30 s) must cover:
- the wall-clock difference between this host and the recovering one (keep hosts on NTP: the
  heartbeat time is written with this host's clock and judged with the other's);
- the watchdog's own check period (`check_interval`, a twentieth of the timeout, ≤ 0.5 s);
- how long the engine takes to honour a cancel (well under a second for the bundled engines).
Healthy renewals happen every heartbeat interval (at most a fifth of the timeout), so the fence
never fires while the database answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

FENCE_FRACTION = 0.75


class Fence:
    def __init__(
        self,
        *,
        worker_timeout_s: float,
        lease_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._heartbeat_budget = FENCE_FRACTION * worker_timeout_s
        self._lease_budget = FENCE_FRACTION * lease_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_heartbeat = clock()
        self.check_interval = min(0.5, worker_timeout_s / 20, lease_s / 20)

    def now(self) -> float:
        return self._clock()

    def heartbeat_succeeded(self, sent_at: float) -> None:
        """A process heartbeat sent at `sent_at` (this clock) was stored."""
        with self._lock:
            self._last_heartbeat = max(self._last_heartbeat, sent_at)

    def since_heartbeat(self) -> float:
        with self._lock:
            return self._clock() - self._last_heartbeat

    def deadline(self, lease_renewed_at: float) -> float:
        """When a job whose lease was last set by a request sent at `lease_renewed_at` must have
        been stopped by."""
        with self._lock:
            heartbeat = self._last_heartbeat + self._heartbeat_budget
        return min(heartbeat, lease_renewed_at + self._lease_budget)

    def expired(self, lease_renewed_at: float) -> bool:
        return self._clock() >= self.deadline(lease_renewed_at)
