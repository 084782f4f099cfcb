"""`EventRelay`: this process's broker events to every other process, and theirs to ours.

Every event published here is encoded once (`{"t", "u", "j", "d"}` as ASCII JSON) and queued;
one sender thread sends whatever is waiting as one batch through `send` (on PostgreSQL: NOTIFY
on the events channel, in one transaction), so a publisher — an engine's progress callback —
never waits for the database, and a database that hangs costs dropped events, never a stuck job.
An event larger than one notification (PostgreSQL refuses payloads of 8000 bytes or more: a
long segment with its words) is cut into parts that travel in the same batch, and so in the
same transaction, which PostgreSQL delivers contiguously; the receiver joins them again. So
every event arrives whole, with all its detail, and no event needs a database read.

Wire format of one notification: `<origin> <seq> <part> <parts> <chunk>`; `origin` names the
sending process, so a process drops its own events (its subscribers had them already) and each
event reaches every other broker exactly once.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from scriberr.events.broker import Event, EventBroker
from scriberr.logging_setup import log_event

CHUNK_CHARS = 7600  # plus a header of < 100 ASCII characters: under the 8000-byte limit
MAX_EVENT_CHARS = 2_000_000  # larger events are not relayed (logged)
MAX_BACKLOG = 10_000  # events waiting for the sender; beyond that new ones are dropped
MAX_BATCH = 500  # notifications per transaction
_RETRY_PAUSE_S = 0.5

_log = logging.getLogger("scriberr.signals")

Send = Callable[[list[str]], None]


def encode(origin: str, seq: int, event: Event) -> list[str]:
    """The notifications carrying `event` (one unless it is large)."""
    body = json.dumps(
        {"t": event.type, "u": event.user_id, "j": event.transcription_id, "d": event.data},
        separators=(",", ":"),
        ensure_ascii=True,  # one character is one byte: the size check is exact
    )
    if len(body) > MAX_EVENT_CHARS:
        return []
    chunks = [body[i : i + CHUNK_CHARS] for i in range(0, len(body), CHUNK_CHARS)] or [""]
    return [f"{origin} {seq} {i} {len(chunks)} {chunk}" for i, chunk in enumerate(chunks)]


class EventRelay:
    def __init__(self, origin: str, broker: EventBroker, send: Send) -> None:
        self.origin = origin
        self._broker = broker
        self._send = send
        self._condition = threading.Condition()
        self._waiting: collections.deque[list[str]] = collections.deque()
        self._seq = itertools.count(1)
        self._dropped = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._partial: dict[str, tuple[int, dict[int, str]]] = {}  # origin -> (seq, parts)

    def start(self) -> None:
        """Forward this broker's events from now on."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="scriberr-relay", daemon=True)
        self._thread.start()
        self._broker.forward_to(self.forward)

    def close(self, timeout: float = 2.0) -> None:
        """Stop forwarding; events already queued get `timeout` seconds to go out."""
        self._broker.forward_to(None)
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- sending ----------------------------------------------------------------------------------

    def forward(self, event: Event) -> None:
        """Queue `event` for the other processes (never blocks)."""
        parts = encode(self.origin, next(self._seq), event)  # outside the lock: may be large
        with self._condition:
            if not parts or len(self._waiting) >= MAX_BACKLOG:
                self._dropped += 1
                if self._dropped == 1:
                    log_event(
                        _log,
                        "signals.event_dropped",
                        level=logging.WARNING,
                        type=event.type,
                        reason="too large" if not parts else "backlog full",
                    )
                return
            self._waiting.append(parts)
            self._condition.notify()

    def _next_batch(self) -> list[str] | None:
        with self._condition:
            while not self._waiting and not self._stopping:
                self._condition.wait()
            if not self._waiting:
                return None
            batch: list[str] = []
            while self._waiting and (not batch or len(batch) + len(self._waiting[0]) <= MAX_BATCH):
                batch += self._waiting.popleft()  # an event's parts always travel together
            return batch

    def _run(self) -> None:
        failing = False
        while (batch := self._next_batch()) is not None:
            try:
                self._send(batch)
            except Exception as error:
                if not failing:  # once per outage
                    log_event(
                        _log,
                        "signals.send_failed",
                        level=logging.WARNING,
                        error=type(error).__name__,
                        dropped=len(batch),
                    )
                failing = True
                time.sleep(_RETRY_PAUSE_S)
                continue
            if failing:
                log_event(_log, "signals.send_resumed")
                failing = False
            with self._condition:
                self._dropped = 0

    # -- receiving --------------------------------------------------------------------------------

    def receive(self, payload: str) -> Event | None:
        """Deliver another process's event to this broker once it is whole (its own events and
        malformed notifications are ignored); returns the delivered event."""
        try:
            origin, seq_text, part_text, total_text, chunk = payload.split(" ", 4)
            seq, part, total = int(seq_text), int(part_text), int(total_text)
        except ValueError:
            return None
        if origin == self.origin:
            return None
        if total > 1:
            if not 0 <= part < total:
                return None
            pending_seq, parts = self._partial.get(origin, (seq, {}))
            if pending_seq != seq:  # a new event: the old one's missing parts never come
                parts = {}
            parts[part] = chunk
            if len(parts) < total:
                self._partial[origin] = (seq, parts)
                return None
            self._partial.pop(origin, None)
            chunk = "".join(parts[i] for i in range(total))
        return self._deliver(chunk)

    def _deliver(self, body: str) -> Event | None:
        try:
            decoded: Any = json.loads(body)
            event_type, user_id = str(decoded["t"]), str(decoded["u"])
            data = dict(decoded["d"])
        except (ValueError, KeyError, TypeError):
            return None
        job = decoded.get("j")
        return self._broker.deliver_remote(
            event_type, user_id, data, transcription_id=None if job is None else str(job)
        )
