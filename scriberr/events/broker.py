"""A thread-safe publish/subscribe hub for job and file events.

Publishers run in worker threads; subscribers are usually asyncio SSE handlers. Each subscription
has its own queue, so every subscriber gets each matching event exactly once. With several
processes on PostgreSQL, `forward_to` hands every event published here to the cluster relay
(`events.relay`), which brings other processes' events in through `deliver_remote` — delivered
to this process's subscribers only, never forwarded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_SUBSCRIBER_BACKLOG = 10_000


@dataclass(frozen=True)
class Event:
    id: int
    type: str  # e.g. transcription.progress, file.ready
    user_id: str
    data: dict[str, Any] = field(default_factory=dict)
    transcription_id: str | None = None


class Subscription:
    """Events for one user (optionally one transcription). Use as a context manager."""

    def __init__(
        self, broker: EventBroker, user_id: str | None, transcription_id: str | None
    ) -> None:
        self._broker = broker
        self.user_id = user_id
        self.transcription_id = transcription_id
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._async_queue: asyncio.Queue[Event] = asyncio.Queue(_SUBSCRIBER_BACKLOG)
        self._sync_queue: queue.Queue[Event] = queue.Queue(_SUBSCRIBER_BACKLOG)

    def matches(self, event: Event) -> bool:
        if self.user_id is not None and event.user_id != self.user_id:
            return False
        return self.transcription_id is None or event.transcription_id == self.transcription_id

    def deliver(self, event: Event) -> None:
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._put_async, event)
            except RuntimeError:  # loop closed: the subscriber is gone
                self.close()
        else:
            with contextlib.suppress(queue.Full):  # a stalled subscriber drops, never blocks
                self._sync_queue.put_nowait(event)

    def _put_async(self, event: Event) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._async_queue.put_nowait(event)

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds (use it to send keep-alives)."""
        try:
            return await asyncio.wait_for(self._async_queue.get(), timeout)
        except TimeoutError:
            return None

    def next_sync(self, timeout: float) -> Event | None:
        """Blocking variant for subscribers outside an event loop (CLI, tests)."""
        try:
            return self._sync_queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._broker._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBroker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._ids = itertools.count(1)
        self._forward: Callable[[Event], None] | None = None

    def forward_to(self, forward: Callable[[Event], None] | None) -> None:
        """Also hand every event published here to `forward` (it must not block)."""
        self._forward = forward

    def publish(
        self,
        type: str,
        user_id: str,
        data: dict[str, Any],
        transcription_id: str | None = None,
    ) -> Event:
        event = self.deliver_remote(type, user_id, data, transcription_id)
        forward = self._forward
        if forward is not None:
            forward(event)
        return event

    def deliver_remote(
        self,
        type: str,
        user_id: str,
        data: dict[str, Any],
        transcription_id: str | None = None,
    ) -> Event:
        """Deliver an event to this process's subscribers only (an event another process
        published, or the local half of `publish`)."""
        with self._lock:
            event = Event(next(self._ids), type, user_id, dict(data), transcription_id)
            targets = [s for s in self._subscriptions if s.matches(event)]
        for subscription in targets:
            subscription.deliver(event)
        return event

    def subscribe(
        self, user_id: str | None = None, transcription_id: str | None = None
    ) -> Subscription:
        """Subscribe from an event loop (async `next`) or a plain thread (`next_sync`)."""
        subscription = Subscription(self, user_id, transcription_id)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
