"""Database handle: engine creation (SQLite in WAL mode with a busy timeout, or PostgreSQL),
sessions, and Alembic migrations applied at startup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

_MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's own WAL checkpoint runs inside the COMMIT that crosses this many pages, i.e. while
# that writer still holds the write lock (it copies the WAL into the database and fsyncs both).
# The queue checkpoints far more often than this outside its lock (`Database.checkpoint`), so
# this is only the backstop that bounds the WAL (~16 MB) when nobody else does.
SQLITE_AUTOCHECKPOINT_PAGES = 4_000


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Database:
    """One SQLAlchemy engine and session factory for the whole process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            _ensure_sqlite_dir(self.url)
            options["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
        else:
            options.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite_connection)
            event.listen(self.engine, "begin", _begin_sqlite)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_engine = self.engine.execution_options(sqlite_begin=None)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def kind(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read transaction (commits on success, rolls back on error). Readers never block on
        writers: SQLite runs in WAL mode."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """For hot single-statement reads (listings, per-request authentication): a Core
        connection, without the ORM Session's bookkeeping. On SQLite no `BEGIN` is sent: one
        SELECT is its own consistent read (SQLite wraps each statement in an implicit read
        transaction), and the explicit `BEGIN`/`COMMIT` pair would cost as much as the query.
        On PostgreSQL it is a plain transaction."""
        with self._read_engine.begin() as connection:
            yield connection

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction for anything that writes. On SQLite it takes the write lock at BEGIN
        (`BEGIN IMMEDIATE`), so a read-then-write never fails half-way with "database is locked";
        concurrent writers wait up to the busy timeout. On PostgreSQL it is a plain transaction."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """`write_session` without the ORM: a Core connection in one write transaction (same
        `BEGIN IMMEDIATE` on SQLite). For hot paths that only run Core statements — it skips the
        Session's bookkeeping, which costs as much as the statements themselves for short
        transactions."""
        with self._write_engine.begin() as connection:
            yield connection

    def write_connector(self) -> Connection:
        """A pooled Core connection whose transactions are write transactions (`BEGIN
        IMMEDIATE` on SQLite) — `with db.write_connector() as c: … with c.begin(): …` — for a
        caller that wants the pool checkout and check-in outside its own lock around the
        transaction (the queue's write gate)."""
        return self._write_engine.connect()

    def checkpoint(self) -> None:
        """SQLite: copy committed WAL pages into the database file (`PASSIVE`: it never waits
        for, or blocks, readers and writers). Call it outside any write lock. No-op on
        PostgreSQL."""
        if self.is_sqlite:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe from several processes)."""
        with self.engine.begin() as connection:
            if not self.is_sqlite:
                # Serialise concurrent starts against one PostgreSQL database.
                connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            alembic_config = AlembicConfig()
            alembic_config.set_main_option("script_location", str(_MIGRATIONS_DIR))
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, "head")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens its own transactions; hand that to SQLAlchemy's "begin" hook.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode is not None:  # None: `read_connection`, one statement in autocommit mode
        connection.exec_driver_sql(f"BEGIN {mode}")
