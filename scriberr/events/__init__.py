"""In-process event broker: the orchestrator and services publish, SSE routes subscribe."""

from scriberr.events.broker import Event, EventBroker, Subscription

__all__ = ["Event", "EventBroker", "Subscription"]
