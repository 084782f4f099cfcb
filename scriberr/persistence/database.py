"""Database handle: engine creation (SQLite in WAL mode with a busy timeout, or PostgreSQL),
sessions, the SQLite write discipline of the hot write path (`gated_write`: a write gate and
passive WAL checkpoints outside it), and Alembic migrations applied at startup.

PostgreSQL may sit on another host, so a cut link must fail calls within seconds instead of
hanging them for the kernel's default of minutes (`PG_NETWORK`): a connect timeout; TCP
keepalives and `tcp_user_timeout` on the client (an idle connection to a vanished server, or
unacknowledged data, end the connection); the same keepalives and `tcp_user_timeout` on the
server side of the session (so the server drops a vanished worker's session, and its row locks);
`statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` bounds on every
session; and a pre-ping on checkout. `Database.reachable` follows the link: one
`db.unreachable` line when a connection fails, one `db.reachable` line when a statement
succeeds again (never one per failed call).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from scriberr.logging_setup import log_event

_MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's own WAL checkpoint runs inside the COMMIT that crosses this many pages, i.e. while
# that writer still holds the write lock (it copies the WAL into the database and fsyncs both).
# The queue checkpoints far more often than this outside its lock (`Database.checkpoint`), so
# this is only the backstop that bounds the WAL (~16 MB) when nobody else does.
SQLITE_AUTOCHECKPOINT_PAGES = 4_000
# SQLite: checkpoint the WAL (outside the write gate) after this many gated write transactions.
# A busy job costs ~13 WAL pages, so this keeps the WAL under ~1000 pages and SQLite's own
# checkpoint — which would run inside a commit, holding the write lock for the copy and two
# fsyncs while every other worker waits — has no reason to run.
CHECKPOINT_EVERY = 64

_log = logging.getLogger("scriberr.persistence")


@dataclass(frozen=True)
class PostgresNetworkSettings:
    """Timeouts of PostgreSQL connections (seconds). Chosen so a worker notices a cut link well
    within the default worker timeout (30 s), while no healthy statement comes near them."""

    connect_timeout_s: int = 5  # libpq's minimum useful value is 2
    keepalives_idle_s: int = 5  # idle time before the first keepalive probe
    keepalives_interval_s: int = 2
    keepalives_count: int = 2  # unanswered probes before the connection is dropped
    tcp_user_timeout_s: float = 5.0  # unacknowledged data for this long: connection dropped
    statement_timeout_s: float = 60.0  # migrations lift it (`migrate`)
    lock_timeout_s: float = 20.0
    idle_in_transaction_timeout_s: float = 600.0  # a backstop: keepalives end vanished clients

    def connect_args(self) -> dict[str, Any]:
        """libpq connection parameters (client side)."""
        return {
            "connect_timeout": self.connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle_s,
            "keepalives_interval": self.keepalives_interval_s,
            "keepalives_count": self.keepalives_count,
            "tcp_user_timeout": int(self.tcp_user_timeout_s * 1000),
        }

    def session_settings(self) -> dict[str, str]:
        """Per-session server settings (all user-settable), applied on connect."""
        return {
            "statement_timeout": f"{int(self.statement_timeout_s * 1000)}",
            "lock_timeout": f"{int(self.lock_timeout_s * 1000)}",
            "idle_in_transaction_session_timeout": (
                f"{int(self.idle_in_transaction_timeout_s * 1000)}"
            ),
            "tcp_keepalives_idle": str(self.keepalives_idle_s),
            "tcp_keepalives_interval": str(self.keepalives_interval_s),
            "tcp_keepalives_count": str(self.keepalives_count),
            "tcp_user_timeout": str(int(self.tcp_user_timeout_s * 1000)),
        }


PG_NETWORK = PostgresNetworkSettings()


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Database:
    """One SQLAlchemy engine and session factory for the whole process."""

    def __init__(
        self, url: str, *, echo: bool = False, network: PostgresNetworkSettings = PG_NETWORK
    ) -> None:
        self.url = normalise_url(url)
        self.link = LinkState()
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            _ensure_sqlite_dir(self.url)
            options["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
        else:
            options.update(
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                connect_args=network.connect_args(),
            )
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite_connection)
            event.listen(self.engine, "begin", _begin_sqlite)
        else:
            event.listen(self.engine, "connect", _session_settings(network.session_settings()))
            event.listen(self.engine, "handle_error", self.link.failed)
            event.listen(self.engine, "after_cursor_execute", self.link.succeeded)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_engine = self.engine.execution_options(sqlite_begin=None)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._gate = WriteGate(_sqlite_path(self.url) if self.is_sqlite else None)
        self._checkpoints = CheckpointSchedule(self, CHECKPOINT_EVERY if self.is_sqlite else 0)

    @property
    def reachable(self) -> bool:
        """False after a connection to PostgreSQL failed, until a statement succeeds again
        (always True on SQLite)."""
        return self.link.reachable

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

    @contextmanager
    def gated_write(self) -> Iterator[Connection]:
        """The hot write path (queue transitions, heartbeats): a write transaction on a Core
        connection inside the write gate; the connection is taken from and returned to the pool
        outside the gate, and every `CHECKPOINT_EVERY` transactions a passive WAL checkpoint
        runs after the gate is released."""
        # checkout, gate, BEGIN … COMMIT, gate released, check-in (its rollback reset): only
        # the transaction itself runs while other writers wait
        with self.write_connector() as connection, self._gate.hold(), connection.begin():
            yield connection
        self._checkpoints.tick()

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
                # A migration may rewrite a big table, and may wait for another process's.
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(text("SET LOCAL lock_timeout = 0"))
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
        self._gate.close()


class LinkState:
    """Whether PostgreSQL answers, fed by engine events; logs each change once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reachable = True

    @property
    def reachable(self) -> bool:
        return self._reachable

    def failed(self, context: ExceptionContext) -> None:
        if not _is_link_failure(context):
            return
        with self._lock:
            was, self._reachable = self._reachable, False
        if was:
            log_event(
                _log,
                "db.unreachable",
                level=logging.ERROR,
                error=type(context.original_exception).__name__,
                detail=str(context.original_exception).strip().splitlines()[0][:300]
                if str(context.original_exception).strip()
                else "",
            )

    def succeeded(self, *_args: Any) -> None:
        if self._reachable:  # the hot path: one attribute read per statement
            return
        with self._lock:
            was, self._reachable = self._reachable, True
        if not was:
            log_event(_log, "db.reachable")


def _is_link_failure(context: ExceptionContext) -> bool:
    """A lost or refused connection (not a query the server rejected: those carry a SQLSTATE,
    e.g. a statement or lock timeout). A failed pre-ping is not one either: the pool just
    reconnects, and only if that fails is the link down."""
    if context.is_pre_ping:
        return False
    if context.is_disconnect:
        return True
    error = context.sqlalchemy_exception
    original = context.original_exception
    return isinstance(error, OperationalError) and getattr(original, "sqlstate", None) is None


def _session_settings(settings: dict[str, str]) -> Any:
    statement = "; ".join(f"SET {name} = {value}" for name, value in settings.items())

    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()

    return apply


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


class WriteGate:
    """SQLite only: queue gated write transactions (across threads and processes) on a kernel
    file lock next to the database, so a waiting writer wakes the moment the lock is free instead
    of sleeping in SQLite's busy handler (1, 2, 5, 10 … ms steps). Correctness does not depend on
    it — `BEGIN IMMEDIATE` does that, and other writers simply use the busy timeout; it only
    removes idle gaps when several workers contend."""

    def __init__(self, database_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        if database_path is not None and fcntl is not None:
            self._fd = os.open(f"{database_path}.queue-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None or fcntl is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class CheckpointSchedule:
    """SQLite only: a passive WAL checkpoint after every `every` gated write transactions, run
    by the thread that completed the last of them once it has left the write gate — so copying
    the WAL into the database never holds up other writers. `every=0` turns it off."""

    def __init__(self, database: Database, every: int) -> None:
        self._database = database
        self._every = every
        self._lock = threading.Lock()
        self._count = 0

    def tick(self) -> None:
        if not self._every:
            return
        with self._lock:
            self._count += 1
            due = self._count % self._every == 0
        if due:
            try:
                self._database.checkpoint()
            except Exception:  # housekeeping only: the next one (or SQLite's backstop) catches up
                _log.warning("WAL checkpoint failed", exc_info=True)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None
