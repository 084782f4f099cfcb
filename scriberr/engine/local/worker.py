"""The engine process: a loop that serves requests from the server with resident models.

`run_engine` is the target of a `spawn`ed process. It silences native stdout/stderr (forwarded as
debug log lines instead), keeps up to `max_loaded` models resident (least recently used unloaded),
checks the shared cancel flag between chunks of work, and answers every request with exactly one
terminal message. Nothing here is imported by the server process except through `process.py`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from scriberr.engine.base import EngineError, JobCanceled, PreparedAudio
from scriberr.engine.local import audio, whisper
from scriberr.engine.local.protocol import (
    Canceled,
    DiarizeRequest,
    Done,
    EngineSettings,
    EngineStats,
    Failed,
    LogLine,
    PrepareRequest,
    Progress,
    Request,
    StatsRequest,
    TranscribeRequest,
)

logger = logging.getLogger("scriberr.engine")

_GENERIC_FAILURE = "the speech engine failed while processing this audio"
_DIARIZATION_KEY = "diarization-default"
_PARENT_CHECK_S = 1.0


class _Sender:
    """Thread-safe sending on the pipe (the main loop and the native-output reader share it)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        # If the server went away, the loop ends on the next receive.
        with self._lock, contextlib.suppress(BrokenPipeError, OSError):
            self._connection.send(message)


class _ForwardingHandler(logging.Handler):
    def __init__(self, sender: _Sender) -> None:
        super().__init__(logging.DEBUG)
        self._sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            return
        self._sender.send(LogLine(record.levelno, text))


def _capture_native_output(sender: _Sender) -> None:
    """Point fds 1 and 2 at a pipe whose lines become debug log records, never public output."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "r", errors="replace") as lines:
            for line in lines:
                if line.strip():
                    sender.send(LogLine(logging.DEBUG, "engine output: " + line.rstrip()))

    threading.Thread(target=pump, name="engine-output", daemon=True).start()


class ModelCache:
    """At most `capacity` loaded models; the least recently used one is dropped first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._models: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        while len(self._models) >= self._capacity:
            evicted, _model = self._models.popitem(last=False)
            del _model
            gc.collect()
            logger.info("unloaded model %s", evicted)
        model = load()
        self._models[key] = model
        logger.info("loaded model %s", key)
        return model

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._models)


class Engine:
    """Executes one request at a time with the resident models."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._models = ModelCache(settings.max_loaded)

    def handle(
        self, request: Request, progress: Callable[[float], None], check_cancel: Callable[[], None]
    ) -> object:
        if isinstance(request, PrepareRequest):
            duration = audio.normalise_audio(request.source, request.destination, check_cancel)
            return PreparedAudio(path=request.destination, duration=duration)
        if isinstance(request, TranscribeRequest):
            return self._transcribe(request, progress, check_cancel)
        if isinstance(request, DiarizeRequest):
            return self._diarize(request, progress, check_cancel)
        if isinstance(request, StatsRequest):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return EngineStats(os.getpid(), usage.ru_maxrss / 1024.0, self._models.keys)
        raise TypeError(f"unknown request {type(request).__name__}")

    def _transcribe(
        self,
        request: TranscribeRequest,
        progress: Callable[[float], None],
        check_cancel: Callable[[], None],
    ) -> object:
        settings = self._settings
        location = request.location
        model = self._models.get(
            f"whisper:{location.model_id}",
            lambda: whisper.load_model(
                location, settings.device, settings.compute_type, settings.threads
            ),
        )
        check_cancel()
        samples = audio.load_samples(request.audio)
        return whisper.transcribe(
            model, samples, request.options, location.model_id, progress, check_cancel
        )

    def _diarize(
        self,
        request: DiarizeRequest,
        progress: Callable[[float], None],
        check_cancel: Callable[[], None],
    ) -> object:
        from scriberr.engine.local.diarization import SpeakerDiarizer

        settings = self._settings
        diarizer = self._models.get(
            _DIARIZATION_KEY, lambda: SpeakerDiarizer(settings.device, settings.threads)
        )
        check_cancel()
        samples = audio.load_samples(request.audio)
        return diarizer.diarize(samples, request.options, progress, check_cancel)


def _progress_sender(sender: _Sender) -> Callable[[float], None]:
    last = [-1.0]

    def report(fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction - last[0] >= 0.01 or (fraction == 1.0 and last[0] < 1.0):
            last[0] = fraction
            sender.send(Progress(fraction))

    return report


def _exit_with_parent() -> None:
    """End this process when the server process is gone, even in the middle of a native call."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(_PARENT_CHECK_S)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_engine(connection: Connection, cancel_flag: Event, settings: EngineSettings) -> None:
    """Process entry point: serve requests until the pipe closes or `None` arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; it stops us
    _exit_with_parent()
    sender = _Sender(connection)
    _capture_native_output(sender)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardingHandler(sender)]
    root.setLevel(logging.INFO)
    logger.setLevel(logging.DEBUG)
    engine = Engine(settings)

    def check_cancel() -> None:
        if cancel_flag.is_set():
            raise JobCanceled()

    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        sender.send(_execute(engine, request, _progress_sender(sender), check_cancel))


def _execute(
    engine: Engine,
    request: Request,
    progress: Callable[[float], None],
    check_cancel: Callable[[], None],
) -> object:
    try:
        return Done(engine.handle(request, progress, check_cancel))
    except JobCanceled:
        return Canceled()
    except EngineError as error:
        return Failed(error.code, error.public_message)
    except MemoryError:
        logger.exception("engine ran out of memory")
        return Failed("engine_crashed", "the speech engine ran out of memory on this job")
    except Exception:
        logger.exception("engine request %s failed", type(request).__name__)
        return Failed("engine_error", _GENERIC_FAILURE)
