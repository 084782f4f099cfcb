"""`ClusterSignals`: what this process hears from the others on PostgreSQL, and where it goes.

One `SignalListener` connection per process. A wake (another process queued a job) wakes this
process's idle workers; a cancel naming a job running here interrupts it at once; another
process's event goes through the `EventRelay` into this process's broker, so every SSE client
here sees it. After every (re)connect the workers are woken once (a job queued during an outage
is claimed now, not at the next poll). While the listener is down, everything falls back to
polling: workers claim every `TRANSCRIPTION_QUEUE_POLL_INTERVAL`, cancel reaches a running job
with the next lease renewal, and event streams read job rows (`events_live_since`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from scriberr.events.broker import EventBroker
from scriberr.events.relay import EventRelay
from scriberr.logging_setup import log_event
from scriberr.persistence.database import Database
from scriberr.persistence.signals import (
    CANCEL_CHANNEL,
    CHANNELS,
    EVENTS_CHANNEL,
    WAKE_CHANNEL,
    SignalListener,
    parse_cancel,
    send_notifications,
)

_log = logging.getLogger("scriberr.signals")


class ClusterSignals:
    """`wake()` wakes the idle workers; `cancel(job_id, worker_id)` interrupts that worker's
    attempt of the job if it runs here (both from the listener thread: they must be quick)."""

    def __init__(
        self,
        *,
        origin: str,
        database: Database,
        broker: EventBroker,
        wake: Callable[[], None],
        cancel: Callable[[str, str], bool],
        receive_events: bool = True,
    ) -> None:
        """`receive_events=False`: a process without event-stream clients (`scriberr worker`)
        sends its events but does not listen to the others'."""
        self.origin = origin
        self._wake = wake
        self._cancel = cancel
        self.relay = EventRelay(
            origin, broker, lambda batch: send_notifications(database, EVENTS_CHANNEL, batch)
        )
        channels = CHANNELS if receive_events else (WAKE_CHANNEL, CANCEL_CHANNEL)
        self.listener = SignalListener(
            database.url, self._on_notification, on_connected=self._wake, channels=channels
        )

    def start(self) -> None:
        self.relay.start()
        self.listener.start()

    def close(self) -> None:
        self.relay.close()
        self.listener.close()

    def events_live_since(self) -> float | None:
        """The monotonic time since which every other process's events reach this broker, or
        None while the listener is down (then event streams must read job rows)."""
        return self.listener.connected_since

    def _on_notification(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            self.relay.receive(payload)
        elif channel == WAKE_CHANNEL:
            if payload != self.origin:  # our own enqueue woke our workers already
                self._wake()
        elif channel == CANCEL_CHANNEL:
            parsed = parse_cancel(payload)
            if parsed is not None and self._cancel(parsed.job_id, parsed.worker_id):
                log_event(
                    _log, "job.cancel_signal", transcription_id=parsed.job_id, origin=parsed.origin
                )
