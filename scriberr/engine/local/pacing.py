"""Steady progress from work that advances in bursts. Runs in the engine process.

Engine steps learn how far they are in uneven jumps: faster-whisper yields a batch of segments at
once after one long native call, and a diarization stage such as the clustering eigen-solve is one
call with no progress at all. A `Pacer` turns those reports into a steady stream:

- the step reports `done` (the fraction certainly finished) and `bound` (the fraction the work in
  flight reaches when it ends); the shown value never passes `bound` until the work gets there;
- between reports the shown value moves on at the rate measured so far in the current phase (or
  the phase's estimate before anything is measured), so it advances while a native call runs;
- it moves at most `max_step` per tick, so a burst turns into a short ramp instead of a jump;
- a background thread ticks every `interval_s` and sends a value only when it moved by at least
  `min_delta`: at most 1 / `interval_s` messages a second, however the work reports.

The shown value never goes down. `finish()` sends the final value at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

INTERVAL_S = 0.25  # at most four progress messages a second
MIN_DELTA = 0.002  # a tenth of a percent of the job's progress for the 0.20-0.70 transcribing span
MAX_STEP = 0.05  # largest move in one tick: a burst becomes a ramp of up to 20 % a second

Send = Callable[[float], None]
Clock = Callable[[], float]


class Pacer:
    """Reports a step's progress (0-1) steadily; thread-safe. Use as a context manager."""

    def __init__(
        self,
        send: Send,
        *,
        interval_s: float = INTERVAL_S,
        min_delta: float = MIN_DELTA,
        max_step: float = MAX_STEP,
        clock: Clock = time.monotonic,
    ) -> None:
        self._send = send
        self._interval_s = interval_s
        self._min_delta = min_delta
        self._max_step = max_step
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = clock()
        self._done = 0.0
        self._bound = 0.0
        self._shown = 0.0
        self._sent = 0.0
        self._ticked_at = now
        self._phase_start = (0.0, now)
        self._phase_rate: float | None = None
        self._measured_rate: float | None = None

    # -- what the work reports ------------------------------------------------------------------

    def phase(self, start: float, end: float, *, expected_s: float | None = None) -> None:
        """A new stretch of work from `start` to `end` begins now; `expected_s` is a guess at
        how long it takes (used until this phase has reported progress of its own)."""
        with self._lock:
            now = self._clock()
            self._done = max(self._done, start)
            self._bound = max(self._done, end) if expected_s else self._done
            self._phase_start = (self._done, now)
            self._measured_rate = None
            self._phase_rate = (
                (end - self._done) / expected_s if expected_s and expected_s > 0 else None
            )

    def report(self, done: float, bound: float | None = None) -> None:
        """`done` is finished; the work now in flight ends at `bound` (default: `done`)."""
        with self._lock:
            now = self._clock()
            done = min(1.0, max(done, self._done))
            if done > self._done:
                start_done, started_at = self._phase_start
                if now > started_at and done > start_done:
                    self._measured_rate = (done - start_done) / (now - started_at)
            self._done = done
            self._bound = min(1.0, max(done, bound if bound is not None else done))

    # -- what is shown ----------------------------------------------------------------------------

    @property
    def shown(self) -> float:
        with self._lock:
            return self._shown

    def tick(self) -> None:
        """Move the shown value on by the time since the last tick; send it if it moved enough."""
        with self._lock:
            now = self._clock()
            elapsed, self._ticked_at = max(0.0, now - self._ticked_at), now
            rate = self._measured_rate if self._measured_rate is not None else self._phase_rate
            ahead = self._shown + rate * elapsed if rate else self._shown
            target = max(self._done, min(self._bound, ahead))
            if target - self._shown > self._max_step + 1e-9:
                target = self._shown + self._max_step
            self._shown = max(self._shown, target)
            value = self._shown if self._shown - self._sent >= self._min_delta else None
            if value is not None:
                self._sent = value
        if value is not None:
            self._send(value)

    def finish(self, final: float = 1.0) -> None:
        """The step is complete: send `final` now."""
        with self._lock:
            self._done = self._bound = self._shown = max(self._shown, final)
            self._sent = self._shown
            value = self._shown
        self._send(value)

    # -- the ticking thread -----------------------------------------------------------------------

    def __enter__(self) -> Pacer:
        self._ticked_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="engine-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.tick()
