"""Server-side handles on engine processes: start lazily, call, cancel, survive crashes.

An `EngineProcess` is one `spawn`ed child running `worker.run_engine`, serving one call at a time.
A call sends a request and then polls the pipe every 50 ms, relaying progress to the caller's
callback and watching the caller's `CancelToken`:

- cancel: the shared cancel flag is set, so the child stops at its next check (between decoded
  segments, audio packets or embedding batches) and the models stay loaded. If it has not answered
  within `COOPERATIVE_CANCEL_S` (it is inside one long native call), the child is killed; the next
  call starts a fresh process lazily and reloads its model. Either way `JobCanceled` is raised well
  within 2 s.
- crash (the child vanished: SIGKILL by the OOM killer, a native abort, …): `EngineCrashedError`,
  and the next call starts a fresh process.

`EnginePool` hands out up to `size` processes (one per concurrent caller; see `LocalProvider`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event

from scriberr.engine.base import (
    AudioDecodeError,
    CancelToken,
    EngineCrashedError,
    EngineError,
    InvalidOptionsError,
    JobCanceled,
    ModelInstallError,
    ModelUnavailableError,
    ProgressCallback,
)
from scriberr.engine.local.protocol import (
    Canceled,
    Done,
    EngineSettings,
    Failed,
    LogLine,
    Progress,
    Request,
)
from scriberr.engine.local.worker import run_engine

logger = logging.getLogger("scriberr.engine")

POLL_INTERVAL_S = 0.05
COOPERATIVE_CANCEL_S = 1.0
_SHUTDOWN_GRACE_S = 2.0
_CRASHED = (
    "the speech engine stopped unexpectedly while processing this job "
    "(it may have run out of memory)"
)
_ERRORS: dict[str, type[EngineError]] = {
    cls.code: cls
    for cls in (
        AudioDecodeError,
        ModelUnavailableError,
        InvalidOptionsError,
        EngineCrashedError,
        ModelInstallError,
        EngineError,
    )
}


def _public_error(failure: Failed) -> EngineError:
    return _ERRORS.get(failure.code, EngineError)(failure.public_message)


class EngineProcess:
    """One engine child process, started on first use and restarted after a kill or crash."""

    def __init__(self, settings: EngineSettings, index: int) -> None:
        self._settings = settings
        self._index = index
        self._context = multiprocessing.get_context("spawn")
        self._process: SpawnProcess | None = None
        self._connection: Connection | None = None
        self._cancel_flag: Event | None = None
        self._closed = False
        self._in_flight = False  # a request was sent and its terminal reply not yet received
        self.recent_models: list[str] = []  # what the parent last asked it to run, newest last

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def _start(self) -> tuple[SpawnProcess, Connection, Event]:
        if self._closed:
            raise EngineError("the speech engine is shutting down")
        process, connection, cancel_flag = self._process, self._connection, self._cancel_flag
        if process is not None and connection is not None and cancel_flag is not None:
            if process.is_alive():
                return process, connection, cancel_flag
            self._discard()
        parent_end, child_end = self._context.Pipe(duplex=True)
        cancel_flag = self._context.Event()
        process = self._context.Process(
            target=run_engine,
            args=(child_end, cancel_flag, self._settings),
            name=f"scriberr-engine-{self._index}",
            daemon=True,
        )
        process.start()
        child_end.close()
        logger.info("started engine process %s (pid %s)", self._index, process.pid)
        self._process, self._connection, self._cancel_flag = process, parent_end, cancel_flag
        return process, parent_end, cancel_flag

    def call(self, request: Request, progress: ProgressCallback, cancel: CancelToken) -> object:
        """Run one request in the child; raises JobCanceled, EngineCrashedError or EngineError."""
        cancel.raise_if_canceled()
        process, connection, cancel_flag = self._start()
        cancel_flag.clear()
        try:
            connection.send(request)
        except (BrokenPipeError, OSError):
            self._discard()
            raise EngineCrashedError(_CRASHED) from None
        self._in_flight = True
        try:
            return self._await_reply(process, connection, cancel_flag, progress, cancel)
        finally:
            if self._in_flight:  # left early (say the progress callback raised): stop the child
                logger.info("engine %s abandoned mid-request; killing it", self._index)
                self.kill()

    def _await_reply(
        self,
        process: SpawnProcess,
        connection: Connection,
        cancel_flag: Event,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> object:
        cancel_deadline: float | None = None
        while True:
            if connection.poll(POLL_INTERVAL_S):
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    return self._lost(process, cancel_deadline is not None)
                if isinstance(message, Progress):
                    if cancel_deadline is None:
                        progress(message.fraction)
                    continue
                if isinstance(message, LogLine):
                    logger.log(message.level, "[engine %s] %s", self._index, message.message)
                    continue
                self._in_flight = False
                if cancel_deadline is not None or isinstance(message, Canceled):
                    raise JobCanceled()
                if isinstance(message, Failed):
                    raise _public_error(message)
                if isinstance(message, Done):
                    return message.result
                raise EngineError("the speech engine sent an unexpected reply")
            if not process.is_alive() and not connection.poll(0):
                return self._lost(process, cancel_deadline is not None)
            if cancel.canceled and cancel_deadline is None:
                cancel_flag.set()
                cancel_deadline = time.monotonic() + COOPERATIVE_CANCEL_S
            if cancel_deadline is not None and time.monotonic() >= cancel_deadline:
                logger.info("engine %s did not stop cooperatively; killing it", self._index)
                self.kill()
                raise JobCanceled()

    def _lost(self, process: SpawnProcess, canceling: bool) -> object:
        process.join(timeout=1.0)
        logger.error(
            "engine process %s (pid %s) exited unexpectedly with code %s",
            self._index,
            process.pid,
            process.exitcode,
        )
        self._discard()
        if canceling:
            raise JobCanceled()
        if self._closed:
            raise EngineError("the speech engine is shutting down")
        raise EngineCrashedError(_CRASHED)

    def kill(self) -> None:
        """Stop the child at once (it is restarted lazily by the next call)."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(timeout=_SHUTDOWN_GRACE_S)
        self._discard()

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._process, self._connection, self._cancel_flag = None, None, None
        self._in_flight = False
        self.recent_models = []

    def close(self) -> None:
        """Ask the child to exit, killing it if it does not within a short grace period."""
        self._closed = True
        process, connection = self._process, self._connection
        if process is None or connection is None:
            return
        if process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                connection.send(None)
            process.join(timeout=_SHUTDOWN_GRACE_S)
        self.kill()


class EnginePool:
    """Up to `size` engine processes; each caller gets one to itself for the length of a call."""

    def __init__(self, settings: EngineSettings, size: int) -> None:
        self._settings = settings
        self._size = max(1, size)
        self._idle: list[EngineProcess] = []
        self._all: list[EngineProcess] = []
        self._available = threading.Condition()
        self._closed = False

    @contextmanager
    def lease(
        self, model_key: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[EngineProcess]:
        """A process to use alone; while all are busy (say, preloading), waits, raising
        `JobCanceled` within `POLL_INTERVAL_S` of `cancel`."""
        engine = self._acquire(model_key, cancel)
        try:
            yield engine
        finally:
            with self._available:
                self._idle.append(engine)
                self._available.notify_all()

    def _acquire(self, model_key: str | None, cancel: CancelToken | None) -> EngineProcess:
        with self._available:
            while True:
                if self._closed:
                    raise EngineError("the speech engine is shutting down")
                if cancel is not None:
                    cancel.raise_if_canceled()
                if self._idle:
                    return self._pick(model_key)
                if len(self._all) < self._size:
                    engine = EngineProcess(self._settings, len(self._all))
                    self._all.append(engine)
                    return engine
                self._available.wait(POLL_INTERVAL_S if cancel is not None else None)

    def _pick(self, model_key: str | None) -> EngineProcess:
        """Prefer an idle process that already ran this model, so it is not loaded twice."""
        for engine in self._idle:
            if model_key is not None and model_key in engine.recent_models:
                self._idle.remove(engine)
                return engine
        return self._idle.pop()

    @contextmanager
    def lease_all(self) -> Iterator[list[EngineProcess]]:
        """Every process started so far, once all of them are idle."""
        with self._available:
            while len(self._idle) < len(self._all):
                self._available.wait()
            engines, self._idle = self._idle, []
        try:
            yield engines
        finally:
            with self._available:
                self._idle.extend(engines)
                self._available.notify_all()

    def processes(self) -> list[EngineProcess]:
        with self._available:
            return list(self._all)

    def close(self) -> None:
        with self._available:
            self._closed = True
            engines = list(self._all)
            self._available.notify_all()
        for engine in engines:
            engine.close()
