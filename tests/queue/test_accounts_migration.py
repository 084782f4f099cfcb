"""Migration 0003 (roles, login throttle, API key fields) and the fair claim order, on SQLite and
on a throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from scriberr.persistence import database as database_module
from scriberr.persistence.database import Database
from scriberr.persistence.queue_repository import QueueRepository
from tests.queue.helpers import enqueue, seed_user
from tests.support.postgres import postgres_server, unavailable_reason

_MIGRATIONS = Path(database_module.__file__).parent / "migrations"


def _upgrade(database: Database, revision: str) -> None:
    with database.engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _check_upgrade_makes_the_first_user_admin(database: Database) -> None:
    _upgrade(database, "0001")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with database.engine.begin() as connection:
        for number, name in enumerate(("second", "first", "third")):
            created = now + timedelta(minutes=(1 if name == "first" else 5 + number))
            connection.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, session_version, "
                    "created_at, updated_at) VALUES (:id, :name, 'x', 1, :at, :at)"
                ),
                {"id": f"user_{name}", "name": name, "at": created},
            )
        connection.execute(
            text(
                "INSERT INTO api_keys (id, user_id, name, key_hash, preview, revoked_at, "
                "created_at) VALUES ('key_1', 'user_first', 'k', 'h1', 'sk_...abcd', :at, :at)"
            ),
            {"at": now},
        )
    database.migrate()  # to head
    with database.engine.connect() as connection:
        roles = dict(connection.execute(text("SELECT username, role FROM users")).all())
        key = connection.execute(text("SELECT is_active, updated_at FROM api_keys")).one()
        disabled = connection.execute(text("SELECT disabled FROM users")).scalars().all()
    assert roles == {"first": "admin", "second": "member", "third": "member"}
    assert not key[0] and key[1] is not None
    assert not any(disabled)


def _check_fair_claims(database: Database) -> None:
    queue = QueueRepository(database)
    heavy, light = seed_user(database), seed_user(database)
    heavy_jobs = [enqueue(queue, heavy, None) for _ in range(3)]
    light_job = enqueue(queue, light, None)
    claimed = []
    for worker in range(3):
        job = queue.claim(f"p/{worker}", 60)
        assert job is not None
        claimed.append(job.id)
    assert claimed == [heavy_jobs[0], light_job, heavy_jobs[1]]


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'scriberr.db'}")
    try:
        yield database
    finally:
        database.close()


def test_migration_and_fair_claims_on_sqlite(tmp_path: Path) -> None:
    with _sqlite(tmp_path) as database:
        _check_upgrade_makes_the_first_user_admin(database)
        _check_fair_claims(database)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_migration_and_fair_claims_on_postgresql() -> None:
    with postgres_server() as url:
        database = Database(url)
        try:
            _check_upgrade_makes_the_first_user_admin(database)
            _check_fair_claims(database)
        finally:
            database.close()
