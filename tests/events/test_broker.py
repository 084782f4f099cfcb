"""The event broker delivers each matching event once per subscriber, across threads and loops."""

from __future__ import annotations

import asyncio
import threading

from scriberr.events import EventBroker


def test_sync_subscriber_gets_only_its_users_events_in_order() -> None:
    broker = EventBroker()
    with broker.subscribe(user_id="user_a") as subscription:
        broker.publish("transcription.progress", "user_a", {"progress": 0.2}, "tr_1")
        broker.publish("transcription.progress", "user_b", {"progress": 0.3}, "tr_2")
        broker.publish("transcription.completed", "user_a", {"progress": 1.0}, "tr_1")
        first = subscription.next_sync(1)
        second = subscription.next_sync(1)
        assert subscription.next_sync(0.05) is None
    assert first is not None and second is not None
    assert [first.type, second.type] == ["transcription.progress", "transcription.completed"]
    assert first.id < second.id
    assert broker.subscriber_count() == 0


def test_job_subscription_filters_by_transcription() -> None:
    broker = EventBroker()
    with broker.subscribe(user_id="user_a", transcription_id="tr_2") as subscription:
        broker.publish("transcription.progress", "user_a", {}, "tr_1")
        broker.publish("transcription.progress", "user_a", {}, "tr_2")
        event = subscription.next_sync(1)
        assert event is not None and event.transcription_id == "tr_2"
        assert subscription.next_sync(0.05) is None


def test_async_subscriber_receives_events_published_from_other_threads() -> None:
    async def scenario() -> list[str]:
        broker = EventBroker()
        with broker.subscribe(user_id="user_a") as subscription:
            publishers = [
                threading.Thread(target=broker.publish, args=("file.ready", "user_a", {"n": n}))
                for n in range(20)
            ]
            for thread in publishers:
                thread.start()
            for thread in publishers:
                thread.join()
            received = []
            while (event := await subscription.next(0.2)) is not None:
                received.append(event)
        assert sorted(event.data["n"] for event in received) == list(range(20))
        return [event.type for event in received]

    assert asyncio.run(scenario()) == ["file.ready"] * 20


def test_events_are_copied_so_publishers_cannot_mutate_delivered_data() -> None:
    broker = EventBroker()
    payload = {"progress": 0.5}
    with broker.subscribe() as subscription:
        broker.publish("transcription.progress", "user_a", payload)
        payload["progress"] = 0.9
        event = subscription.next_sync(1)
    assert event is not None and event.data == {"progress": 0.5}
