"""`EventRelay` without a database: what goes out (whole events, large ones in parts, in
publish order, never blocking the publisher) and what comes in (joined again, own events and
malformed notifications ignored, an event whose parts never all arrive dropped)."""

from __future__ import annotations

import threading

from scriberr.events.broker import Event, EventBroker
from scriberr.events.relay import EventRelay, encode


def _parts(origin: str, seq: int, data: dict[str, object]) -> list[str]:
    return encode(origin, seq, Event(0, "transcription.segment", "u1", data, "tr_1"))


def test_parts_are_joined_in_any_order_and_own_or_broken_payloads_ignored() -> None:
    broker = EventBroker()
    relay = EventRelay("here", broker, lambda batch: None)
    big = {"text": "ü" * 5000}  # 30 000 ASCII characters once escaped: four parts
    parts = _parts("there", 7, big)
    assert len(parts) == 4
    with broker.subscribe() as subscription:
        assert relay.receive("not a notification") is None
        assert relay.receive(_parts("here", 1, {"x": 1})[0]) is None  # our own
        for part in [parts[2], parts[0], parts[3]]:
            assert relay.receive(part) is None
        event = relay.receive(parts[1])
        assert event is not None and event.data == big and event.transcription_id == "tr_1"
        # a new large event from that origin abandons an incomplete one
        lost = _parts("there", 8, big)
        relay.receive(lost[0])
        *head, tail = _parts("there", 9, {"n": 9, **big})
        assert all(relay.receive(part) is None for part in head)
        assert relay.receive(tail) is not None
        for part in lost[1:]:
            assert relay.receive(part) is None  # the rest of the abandoned event
        received = [subscription.next_sync(0.1) for _ in range(3)]
    assert [e.data for e in received if e] == [big, {"n": 9, **big}]


def test_events_go_out_in_publish_order_and_a_stuck_sender_never_blocks_publishers() -> None:
    sent: list[list[str]] = []
    release = threading.Event()

    def send(batch: list[str]) -> None:
        release.wait(5)  # the database hangs until released
        sent.append(batch)

    broker = EventBroker()
    relay = EventRelay("here", broker, send)
    relay.start()
    try:
        for n in range(200):
            broker.publish("transcription.progress", "u1", {"n": n}, "tr_1")  # never waits
        assert sent == []  # all published while the sender is still stuck
        release.set()
    finally:
        relay.close(5)
    receiver = EventRelay("there", EventBroker(), lambda batch: None)
    numbers = [e.data["n"] for batch in sent for p in batch if (e := receiver.receive(p))]
    assert numbers == list(range(200))
