"""Idempotency records: the first successful response to an `Idempotency-Key` request, stored per
(user, key, route) so the API can replay it (see `scriberr.api.idempotency` for the HTTP side)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from scriberr.clock import utcnow
from scriberr.persistence.idempotency_repository import IdempotencyRepository, StoredResponse

__all__ = ["IdempotencyService", "StoredResponse"]


class IdempotencyService:
    def __init__(
        self, repository: IdempotencyRepository, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._repository = repository
        self._now = clock

    def find(self, user_id: str, key: str, route: str) -> StoredResponse | None:
        """The response stored for this key on this route, if any."""
        return self._repository.find(user_id, key, route)

    def save_first(
        self, user_id: str, key: str, route: str, response: StoredResponse
    ) -> StoredResponse:
        """Store `response` unless a response is stored already; returns the stored one."""
        return self._repository.save(user_id, key, route, response, self._now())
