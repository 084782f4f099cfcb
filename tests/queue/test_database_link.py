"""PostgreSQL connections fail fast and say so once: `db.unreachable` on the first failed
connection (never once per failed call), and the session limits are applied."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scriberr.persistence.database import PG_NETWORK, Database
from tests.support.postgres import postgres_server, unavailable_reason


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    return [
        r.fields  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == name
    ]


def test_an_unreachable_database_is_logged_once_however_many_calls_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="scriberr.persistence")
    database = Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres")
    try:
        assert database.reachable
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(OperationalError), database.session() as session:
                session.execute(text("SELECT 1"))
            assert time.monotonic() - started < PG_NETWORK.connect_timeout_s + 1
        assert not database.reachable
        [line] = _events(caplog, "db.unreachable")
        assert line["error"] == "OperationalError"
    finally:
        database.close()


def test_sqlite_is_always_reachable() -> None:
    database = Database("sqlite:///:memory:")
    try:
        assert database.reachable
    finally:
        database.close()


@pytest.mark.postgres
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_postgres_sessions_carry_the_timeouts_and_a_canceled_statement_is_no_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="scriberr.persistence")
    with postgres_server() as url:
        database = Database(url)
        try:
            with database.session() as session:
                shown = {
                    name: session.execute(text(f"SHOW {name}")).scalar_one()
                    for name in (
                        "statement_timeout",
                        "lock_timeout",
                        "idle_in_transaction_session_timeout",
                    )
                }
            assert shown == {
                "statement_timeout": "1min",
                "lock_timeout": "20s",
                "idle_in_transaction_session_timeout": "10min",
            }
            # a statement the server cancels is not a lost link
            with pytest.raises(OperationalError), database.session() as session:
                session.execute(text("SET LOCAL statement_timeout = 50"))
                session.execute(text("SELECT pg_sleep(1)"))
            assert database.reachable and _events(caplog, "db.unreachable") == []
        finally:
            database.close()
