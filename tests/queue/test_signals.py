"""LISTEN/NOTIFY signals on a PostgreSQL server the test starts (persistence.signals,
events.relay, queue.signals), between two "processes" (two brokers, relays and listeners with
their own origins) in this test process; the real multi-process behaviour is in
tests/api/test_cluster_signals.py.

- An event published in one process reaches the other's subscribers exactly once, whole (also
  one far larger than NOTIFY's 8000-byte limit, with non-ASCII text), and never echoes back.
- Enqueue and cancel NOTIFY inside their transactions, naming the sender and the running worker.
- A listener whose connection dies says so once, reconnects, wakes its workers, and hears again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from scriberr.events.broker import EventBroker
from scriberr.events.relay import encode
from scriberr.persistence.database import Database
from scriberr.persistence.queue_repository import QueueRepository
from scriberr.persistence.signals import (
    CANCEL_CHANNEL,
    MAX_PAYLOAD_BYTES,
    WAKE_CHANNEL,
    SignalListener,
    parse_cancel,
)
from scriberr.queue.signals import ClusterSignals
from tests.queue.helpers import FAKE_OPTIONS, enqueue, seed_user, wait_for
from tests.support.postgres import postgres_server, unavailable_reason

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server(port=54341) as url:
        yield url


@pytest.fixture
def database(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.migrate()
    yield database
    database.close()


class _Process:
    """One simulated process: a broker, and its signals with counters for wake and cancel."""

    def __init__(self, origin: str, database: Database, *, receive_events: bool = True) -> None:
        self.broker = EventBroker()
        self.wakes = 0
        self.canceled: list[tuple[str, str]] = []
        self.woken = threading.Event()
        self.signals = ClusterSignals(
            origin=origin,
            database=database,
            broker=self.broker,
            wake=self._wake,
            cancel=self._cancel,
            receive_events=receive_events,
        )

    def _wake(self) -> None:
        self.wakes += 1
        self.woken.set()

    def _cancel(self, job_id: str, worker_id: str) -> bool:
        self.canceled.append((job_id, worker_id))
        return True

    def __enter__(self) -> _Process:
        self.signals.start()
        assert self.signals.listener.wait_connected(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.signals.close()


def test_events_cross_processes_exactly_once_whole_and_never_echo(database: Database) -> None:
    big_text = "Grüße, 東京 — " + "word " * 4000  # ~20 kB: several notifications
    with (
        _Process("proc_a", database) as a,
        _Process("proc_b", database) as b,
        a.broker.subscribe() as at_a,
        b.broker.subscribe(user_id="u1") as at_b,
    ):
        a.broker.publish("transcription.progress", "u1", {"id": "tr_1", "progress": 0.25}, "tr_1")
        a.broker.publish("transcription.segment", "u1", {"id": "tr_1", "text": big_text}, "tr_1")
        a.broker.publish("file.ready", "u2", {"id": "file_1"})  # another user's
        b.broker.publish("transcription.completed", "u1", {"id": "tr_1"}, "tr_1")
        received = [at_b.next_sync(5) for _ in range(3)]
        assert at_b.next_sync(0.5) is None  # nothing twice, u2's event filtered
        local = [at_a.next_sync(5) for _ in range(4)]
        assert at_a.next_sync(0.5) is None  # a's own events not echoed back
    assert all(event is not None for event in received + local)
    assert sorted(e.type for e in received if e) == sorted(
        ["transcription.progress", "transcription.segment", "transcription.completed"]
    )
    segment = next(e for e in received if e and e.type == "transcription.segment")
    assert segment.data == {"id": "tr_1", "text": big_text}
    assert segment.transcription_id == "tr_1" and segment.user_id == "u1"
    assert {e.type for e in local if e} >= {"file.ready", "transcription.completed"}


def test_every_notification_fits_the_payload_limit() -> None:
    from scriberr.events.broker import Event

    for size in (0, 10, 7_599, 7_600, 7_601, 50_000):
        parts = encode("worker_x" * 3, 123456789, Event(1, "t", "u", {"x": "é" * size}, "tr"))
        assert parts
        assert all(len(part.encode()) < MAX_PAYLOAD_BYTES for part in parts)


def test_enqueue_and_cancel_notify_in_their_transaction(database: Database) -> None:
    heard: list[tuple[str, str]] = []
    listener = SignalListener(database.url, lambda c, p: heard.append((c, p)))
    listener.start()
    assert listener.wait_connected(10)
    try:
        queue = QueueRepository(database, signal_origin="proc_a")
        user = seed_user(database)
        with database.gated_write() as connection:
            job = queue.enqueue(_new_job(user), session=connection)
            threading.Event().wait(0.3)
            assert heard == []  # not before the commit
        wait_for(lambda: (WAKE_CHANNEL, "proc_a") in heard, timeout=5)
        claimed = queue.claim("proc_b/0", 60)
        assert claimed is not None and claimed.id == job
        queue.cancel(job, user)
        wait_for(lambda: any(c == CANCEL_CHANNEL for c, _ in heard), timeout=5)
        [payload] = [p for c, p in heard if c == CANCEL_CHANNEL]
        assert parse_cancel(payload) == ("proc_a", job, "proc_b/0")
        queued = enqueue(queue, user, None)
        queue.cancel(queued, user)  # nobody runs a queued job: no cancel signal
        wait_for(lambda: heard.count((WAKE_CHANNEL, "proc_a")) == 2, timeout=5)
        threading.Event().wait(0.3)
        assert [c for c, _ in heard].count(CANCEL_CHANNEL) == 1
    finally:
        listener.close()


def _new_job(user: str) -> object:
    from scriberr.persistence.queue_repository import NewJob

    return NewJob(user_id=user, options=dict(FAKE_OPTIONS))


def test_a_lost_listener_connection_is_logged_once_and_comes_back(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scriberr.signals")
    with _Process("proc_a", database) as a, _Process("proc_b", database) as b:
        first = b.signals.events_live_since()
        b.woken.clear()
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'scriberr-signals' AND pid <> pg_backend_pid()"
                )
            )
        wait_for(lambda: b.signals.events_live_since() not in (None, first), timeout=15)
        assert b.woken.wait(5)  # reconnected: its workers are woken to catch up
        with b.broker.subscribe() as at_b:
            a.broker.publish("transcription.progress", "u1", {"id": "tr_9"}, "tr_9")
            event = at_b.next_sync(5)
        assert event is not None and event.data == {"id": "tr_9"}
    downs = [
        r
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "signals.listener_down"
    ]
    ups = [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "signals.listener_up"
    ]
    assert len(downs) == 2  # one line per listener per outage, not one per retry
    assert len(ups) == 2


def test_a_worker_only_process_sends_events_but_hears_only_wake_and_cancel(
    database: Database,
) -> None:
    with (
        _Process("proc_api", database) as api,
        _Process("proc_gpu", database, receive_events=False) as gpu,
        api.broker.subscribe() as at_api,
        gpu.broker.subscribe() as at_gpu,
    ):
        gpu.broker.publish("transcription.progress", "u1", {"id": "tr_1"}, "tr_1")
        api.broker.publish("file.ready", "u1", {"id": "file_1"})
        api_events = [at_api.next_sync(5) for _ in range(2)]
        assert sorted(e.type for e in api_events if e) == ["file.ready", "transcription.progress"]
        gpu_events = [at_gpu.next_sync(1) for _ in range(2)]
        assert [e.type for e in gpu_events if e] == ["transcription.progress"]  # its own only
        gpu.woken.clear()
        queue = QueueRepository(database, signal_origin="proc_api")
        enqueue(queue, seed_user(database), None)
        assert gpu.woken.wait(5)


def test_a_notification_that_arrives_during_the_idle_ping_is_delivered(pg_url: str) -> None:
    """psycopg passes a notification read while a statement runs to notify handlers only: the
    listener's idle ping must not drop it (a cancel would then wait for the next heartbeat)."""
    import psycopg

    from scriberr.persistence.signals import libpq_conninfo

    heard: list[tuple[str, str]] = []
    listener = SignalListener(pg_url, lambda channel, payload: heard.append((channel, payload)))
    conninfo = libpq_conninfo(pg_url)
    with (
        psycopg.connect(conninfo, autocommit=True) as listening,
        psycopg.connect(conninfo, autocommit=True) as sender,
    ):
        listening.execute(f"LISTEN {CANCEL_CHANNEL}")
        sender.execute("SELECT pg_notify(%s, %s)", (CANCEL_CHANNEL, "origin job worker"))
        listener._ping(listening)  # the notification is read by the ping's own round trip
    assert heard == [(CANCEL_CHANNEL, "origin job worker")]
