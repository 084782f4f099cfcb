"""SQL for `Idempotency-Key` records: the first response stored per (user, key, route)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from scriberr.persistence.database import Database
from scriberr.persistence.models import IdempotencyRecord


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str
    content_type: str


class IdempotencyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def find(self, user_id: str, key: str, route: str) -> StoredResponse | None:
        with self._db.session() as session:
            record = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == user_id,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.route == route,
                )
            )
            if record is None:
                return None
            return StoredResponse(record.status_code, record.response_body, record.content_type)

    def save(
        self, user_id: str, key: str, route: str, response: StoredResponse, now: datetime
    ) -> StoredResponse:
        """Store the first response; if another request stored one first, return that one."""
        try:
            with self._db.write_session() as session:
                existing = session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.user_id == user_id,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.route == route,
                    )
                )
                if existing is not None:
                    return StoredResponse(
                        existing.status_code, existing.response_body, existing.content_type
                    )
                session.add(
                    IdempotencyRecord(
                        user_id=user_id,
                        key=key,
                        route=route,
                        status_code=response.status_code,
                        response_body=response.body,
                        content_type=response.content_type,
                        created_at=now,
                    )
                )
        except IntegrityError:
            stored = self.find(user_id, key, route)
            if stored is not None:
                return stored
            raise
        return response

    def purge_older_than(self, cutoff: datetime) -> int:
        with self._db.write_session() as session:
            result = session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)
