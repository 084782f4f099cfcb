"""PostgreSQL LISTEN/NOTIFY: the SQL of the signals between processes (see docs/SCALING.md).

Three channels carry everything one process needs to tell the others at once:
- `WAKE_CHANNEL` (payload: the sender's origin id): a job became claimable, sent inside the
  transaction that queued it, so listeners hear it when the row is visible;
- `CANCEL_CHANNEL` (payload: `<origin> <job id> <worker id>`): a running job was canceled,
  sent inside the cancel transaction;
- `EVENTS_CHANNEL` (payload: see `events.relay`): job and file events for other processes'
  event brokers.

`notify()` runs inside a caller's transaction; `send_notifications()` sends a batch in one short
transaction of its own. `SignalListener` holds one dedicated autocommit connection that LISTENs
on the channels and hands each notification to a callback from its own thread; it reconnects
with backoff and logs once per outage. Nothing here exists on SQLite, where one process's
in-memory signals are all there is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from scriberr.logging_setup import log_event
from scriberr.persistence.database import PG_NETWORK, Database

WAKE_CHANNEL = "scriberr_wake"
CANCEL_CHANNEL = "scriberr_cancel"
EVENTS_CHANNEL = "scriberr_events"
CHANNELS = (WAKE_CHANNEL, CANCEL_CHANNEL, EVENTS_CHANNEL)
# PostgreSQL refuses payloads of 8000 bytes or more; senders keep every payload under this.
MAX_PAYLOAD_BYTES = 7900
_IDLE_PING_S = 10.0
_NOTIFY_WAIT_S = 0.5
_BACKOFF_START_S = 0.2
_BACKOFF_MAX_S = 5.0

_log = logging.getLogger("scriberr.signals")

Notification = Callable[[str, str], None]  # (channel, payload)


class CancelSignal(NamedTuple):
    origin: str
    job_id: str
    worker_id: str


def cancel_payload(origin: str, job_id: str, worker_id: str) -> str:
    return f"{origin} {job_id} {worker_id}"


def parse_cancel(payload: str) -> CancelSignal | None:
    parts = payload.split(" ")
    return CancelSignal(*parts) if len(parts) == 3 else None


def notify(executor: Any, channel: str, payload: str) -> None:
    """NOTIFY `channel` inside the caller's transaction (delivered when it commits)."""
    executor.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


def send_notifications(database: Database, channel: str, payloads: Sequence[str]) -> None:
    """NOTIFY `channel` once per payload, in order, in one transaction of its own."""
    if not payloads:
        return
    with database.engine.begin() as connection:
        connection.execute(
            text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
            {"channel": channel, "payloads": list(payloads)},
        )


def libpq_conninfo(url: str) -> str:
    """The libpq connection URL for a SQLAlchemy PostgreSQL URL (driver name dropped)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class SignalListener:
    """One dedicated connection LISTENing on `channels`; `on_notification(channel, payload)` runs
    on the listener thread (keep it quick). `on_connected()` runs after every (re)connect, once
    LISTEN is in place, so the owner can catch up on what it may have missed; `connected_since`
    is the monotonic time of that moment, or None while disconnected."""

    def __init__(
        self,
        url: str,
        on_notification: Notification,
        *,
        on_connected: Callable[[], None] | None = None,
        channels: Sequence[str] = CHANNELS,
    ) -> None:
        self._conninfo = libpq_conninfo(url)
        self._on_notification = on_notification
        self._on_connected = on_connected
        self._channels = tuple(channels)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected_since: float | None = None

    @property
    def connected_since(self) -> float | None:
        return self._connected_since

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="scriberr-signals", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until LISTEN is in place (tests, startup); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._connected_since is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._connected_since is not None

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()  # the thread checks it at least every `_NOTIFY_WAIT_S`
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = _BACKOFF_START_S
        down_since: float | None = None
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    if down_since is not None:
                        log_event(
                            _log,
                            "signals.listener_up",
                            outage_s=round(time.monotonic() - down_since, 1),
                        )
                    down_since, backoff = None, _BACKOFF_START_S
                    self._listen(connection)
            except Exception as error:
                if self._stop.is_set():
                    break
                if down_since is None:  # once per outage
                    down_since = time.monotonic()
                    log_event(
                        _log,
                        "signals.listener_down",
                        level=logging.WARNING,
                        error=type(error).__name__,
                        fallback="polling",
                    )
            finally:
                self._connected_since = None
            self._stop.wait(backoff)
            backoff = min(_BACKOFF_MAX_S, backoff * 2)

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(
            self._conninfo,
            autocommit=True,
            application_name="scriberr-signals",
            # the same connect timeout, keepalives and TCP user timeout as the pool's connections:
            # a silently cut link is noticed within seconds
            **PG_NETWORK.connect_args(),
        )
        return connection

    def _listen(self, connection: psycopg.Connection[Any]) -> None:
        for channel in self._channels:
            connection.execute(f"LISTEN {channel}")  # constants, never user input
        self._connected_since = time.monotonic()
        if self._on_connected is not None:
            self._callback(self._on_connected)
        last_seen = time.monotonic()
        while not self._stop.is_set():
            for notification in connection.notifies(timeout=_NOTIFY_WAIT_S):
                last_seen = time.monotonic()
                self._callback(self._on_notification, notification.channel, notification.payload)
            if connection.closed:
                raise ConnectionError("the signal connection closed")
            if time.monotonic() - last_seen >= _IDLE_PING_S:
                self._ping(connection)  # an idle connection proves it is still there
                last_seen = time.monotonic()

    def _ping(self, connection: psycopg.Connection[Any]) -> None:
        """`SELECT 1` on the listening connection. psycopg hands notifications that arrive while
        a statement runs to notify handlers, never to a later `notifies()`: without a handler
        here they would be dropped (a cancel lost). So a handler holds them for the duration,
        and they are delivered after the ping, in order."""
        arrived: list[psycopg.Notify] = []
        handler = arrived.append
        connection.add_notify_handler(handler)
        try:
            connection.execute("SELECT 1")
        finally:
            connection.remove_notify_handler(handler)
        for notification in arrived:
            self._callback(self._on_notification, notification.channel, notification.payload)

    @staticmethod
    def _callback(function: Callable[..., None], *args: str) -> None:
        try:
            function(*args)
        except Exception:
            _log.exception("signal handler failed", extra={"fields": {"event": "signals.error"}})
