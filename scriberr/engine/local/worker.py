"""The engine process: a loop that serves requests from the server with resident models.

`run_engine` is the target of a `spawn`ed process. It silences native stdout/stderr (forwarded as
debug log lines instead), keeps up to `max_loaded` models resident (least recently used unloaded),
checks the shared cancel flag between chunks of work, and answers every request with exactly one
terminal message. Transcription and diarization report progress through a `Pacer` (steady, at
most four messages a second). A `PreloadRequest` loads models before any job asks for them: the
diarizer in a background thread that a job's diarization step waits for, started first (it is the
long load), and the Whisper models before the request is answered.
Nothing here is imported by the server process except through `process.py`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from scriberr.engine.base import (
    EngineError,
    JobCanceled,
    PreparedAudio,
    Segment,
    SegmentCallback,
)
from scriberr.engine.catalog import DIARIZATION_MODEL_ID, ModelLocation, find_entry
from scriberr.engine.local import audio, whisper
from scriberr.engine.local.pacing import Pacer
from scriberr.engine.local.protocol import (
    Canceled,
    DiarizeRequest,
    Done,
    EngineSettings,
    EngineStats,
    Failed,
    LogLine,
    PartialSegment,
    PreloadRequest,
    PrepareRequest,
    Progress,
    Request,
    StatsRequest,
    TranscribeRequest,
    VerifyModelRequest,
)

logger = logging.getLogger("scriberr.engine")

CancelCheck = Callable[[], None]

_GENERIC_FAILURE = "the speech engine failed while processing this audio"
_DIARIZATION_KEY = DIARIZATION_MODEL_ID
# Audio seconds per second of work assumed for a model's first job in a process (CPU, 2 cores,
# int8), as this constant over the model size in MB: about 20x real time for tiny, 0.5x for
# large-v3. Only paces progress until the job's first segments arrive.
_SPEED_PER_MB = 1500.0
_PARENT_CHECK_S = 1.0
_WAIT_S = 0.05  # how often a job waiting for a model loading in another thread checks cancel
_LOADING_SWITCH_INTERVAL_S = 0.0005  # the GIL's turns while a model loads in the background


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
    """At most `capacity` loaded models; the least recently used one is dropped first.

    Thread-safe: a model can load in a background thread (the preload's diarizer) while a job
    runs in the main loop. A `get` for a model that another thread is loading waits for that load
    (checking `check_cancel` every `_WAIT_S`) instead of loading it twice.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._loading: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._background_loads = 0
        self._switch_interval = sys.getswitchinterval()
        self.loads = 0  # models loaded since the process started

    def get(
        self, key: str, load: Callable[[], Any], check_cancel: CancelCheck | None = None
    ) -> Any:
        while True:
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key]
                pending = self._loading.get(key)
                if pending is None:
                    self._reserve(key)
                    break
            while not pending.wait(_WAIT_S):  # loading in another thread: wait for it
                if check_cancel is not None:
                    check_cancel()
        return self._load(key, load)

    def load_in_background(self, key: str, load: Callable[[], Any]) -> None:
        """Start loading `key` in a thread of its own (a `get` meanwhile waits for it); a
        failure is logged, and the next `get` tries again."""
        with self._lock:
            if key in self._models or key in self._loading:
                return
            self._reserve(key)

        def run() -> None:
            try:
                with self._jobs_first():
                    self._load(key, load)
            except EngineError as error:
                logger.warning("loading model %s failed: %s", key, error.public_message)
            except Exception:
                logger.exception("loading model %s failed", key)

        threading.Thread(target=run, name=f"load-{key}", daemon=True).start()

    @contextlib.contextmanager
    def _jobs_first(self) -> Iterator[None]:
        """While a model loads in the background, the interpreter switches threads every
        `_LOADING_SWITCH_INTERVAL_S` instead of every 5 ms (the default is restored when the last
        background load ends).

        A load is mostly imports: Python holding the GIL. A job step running meanwhile (the first
        job's audio preparation, its decoding loop) gives the GIL up at every native call and
        then waits for the loading thread's turn to end; with 5-ms turns the first job's audio
        preparation took 0.2-0.7 s beside the diarizer's load instead of 0.02 s."""
        with self._lock:
            self._background_loads += 1
            if self._background_loads == 1:
                self._switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(_LOADING_SWITCH_INTERVAL_S)
        try:
            yield
        finally:
            with self._lock:
                self._background_loads -= 1
                if self._background_loads == 0:
                    sys.setswitchinterval(self._switch_interval)

    def _reserve(self, key: str) -> None:
        """Mark `key` as loading, making room for it (lock held)."""
        self._loading[key] = threading.Event()
        self._make_room()

    def _load(self, key: str, load: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            model = load()
        except BaseException:
            with self._lock:
                self._loading.pop(key).set()
            raise
        with self._lock:
            self._models[key] = model
            self.loads += 1
            self._loading.pop(key).set()
        logger.info("loaded model %s in %.1f s", key, time.monotonic() - started)
        return model

    def _make_room(self) -> None:
        """Unload least recently used models until the ones loading fit (lock held)."""
        while self._models and len(self._models) + len(self._loading) > self._capacity:
            evicted, _model = self._models.popitem(last=False)
            del _model
            gc.collect()
            logger.info("unloaded model %s", evicted)

    @property
    def keys(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._models)

    @property
    def loading(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._loading)


class Engine:
    """Executes one request at a time with the resident models."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._models = ModelCache(settings.max_loaded)
        self._speeds: dict[str, float] = {}  # model ID -> audio seconds per second, last job

    def handle(
        self,
        request: Request,
        send_progress: Callable[[float], None],
        check_cancel: CancelCheck,
        send_segment: SegmentCallback | None = None,
    ) -> object:
        started = time.monotonic()
        if isinstance(request, PrepareRequest):
            duration = audio.normalise_audio(request.source, request.destination, check_cancel)
            logger.info("prepared %.1f s of audio in %.2f s", duration, time.monotonic() - started)
            return PreparedAudio(path=request.destination, duration=duration)
        if isinstance(request, TranscribeRequest):
            with Pacer(send_progress) as pacer:
                on_segment = send_segment if request.stream_segments else None
                result = self._transcribe(request, pacer, check_cancel, on_segment)
                pacer.finish()
            logger.info("transcribed in %.2f s", time.monotonic() - started)
            return result
        if isinstance(request, DiarizeRequest):
            with Pacer(send_progress) as pacer:
                turns = self._diarize(request, pacer, check_cancel)
                pacer.finish()
            logger.info("diarized in %.2f s", time.monotonic() - started)
            return turns
        if isinstance(request, PreloadRequest):
            return self._preload(request)
        if isinstance(request, VerifyModelRequest):
            settings = self._settings
            whisper.open_model(
                request.directory,
                settings.device,
                settings.compute_type,
                settings.threads,
                request.multilingual,
            )
            gc.collect()
            return None
        if isinstance(request, StatsRequest):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return EngineStats(
                os.getpid(),
                usage.ru_maxrss / 1024.0,
                self._models.keys,
                self._models.loads,
                self._models.loading,
            )
        raise TypeError(f"unknown request {type(request).__name__}")

    def _whisper_model(
        self, location: ModelLocation, check_cancel: CancelCheck | None = None
    ) -> Any:
        settings = self._settings
        return self._models.get(
            f"whisper:{location.model_id}",
            lambda: whisper.load_model(
                location, settings.device, settings.compute_type, settings.threads, check_cancel
            ),
            check_cancel,
        )

    def _diarizer(self, check_cancel: CancelCheck | None = None) -> Any:
        return self._models.get(_DIARIZATION_KEY, self._load_diarizer, check_cancel)

    def _load_diarizer(self) -> Any:
        from scriberr.engine.local.diarization import SpeakerDiarizer

        diarizer = SpeakerDiarizer(self._settings.device, self._settings.threads)
        diarizer.warm_up()
        return diarizer

    def _preload(self, request: PreloadRequest) -> tuple[str, ...]:
        """Start the diarizer loading in a background thread (the long load, so first), load the
        requested Whisper models, then answer: a job can start transcribing as soon as Whisper
        is resident, and its diarization step waits for the rest of the diarizer's load (which
        overlaps the Whisper load and the transcription). A model that fails to load is logged
        and skipped."""
        loaded = []
        if request.diarization:
            self._models.load_in_background(_DIARIZATION_KEY, self._load_diarizer)
        for location in request.whisper:
            try:
                self._whisper_model(location)
                whisper.warm_up()
            except EngineError as error:
                logger.warning(
                    "preloading model %s failed: %s", location.model_id, error.public_message
                )
                continue
            loaded.append(location.model_id)
        if request.diarization:
            loaded.append(_DIARIZATION_KEY)
        return tuple(loaded)

    def _transcribe(
        self,
        request: TranscribeRequest,
        pacer: Pacer,
        check_cancel: CancelCheck,
        on_segment: SegmentCallback | None,
    ) -> object:
        location = request.location
        model = self._whisper_model(location, check_cancel)
        check_cancel()
        samples = audio.load_samples(request.audio)
        started = time.monotonic()
        result = whisper.transcribe(
            model,
            samples,
            request.options,
            location.model_id,
            pacer,
            check_cancel,
            speed=self._speed(location.model_id),
            on_segment=on_segment,
        )
        elapsed = time.monotonic() - started
        if elapsed > 0 and result.duration > 0:
            self._speeds[location.model_id] = result.duration / elapsed
        return result

    def _speed(self, model_id: str) -> float | None:
        """Audio seconds per second this model decoded at last time (or a guess from its size)."""
        if model_id in self._speeds:
            return self._speeds[model_id]
        entry = find_entry(model_id)
        if entry is None or self._settings.device != "cpu":
            return None
        return _SPEED_PER_MB / entry.size_mb

    def _diarize(self, request: DiarizeRequest, pacer: Pacer, check_cancel: CancelCheck) -> object:
        diarizer = self._diarizer(check_cancel)
        check_cancel()
        samples = audio.load_samples(request.audio)
        return diarizer.diarize(samples, request.options, pacer, check_cancel)


def _segment_sender(sender: _Sender) -> SegmentCallback:
    def send(index: int, segment: Segment) -> None:
        sender.send(PartialSegment(index, segment))

    return send


def _progress_sender(sender: _Sender) -> Callable[[float], None]:
    def report(fraction: float) -> None:
        sender.send(Progress(min(max(fraction, 0.0), 1.0)))

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
        sender.send(
            _execute(
                engine, request, _progress_sender(sender), check_cancel, _segment_sender(sender)
            )
        )


def _execute(
    engine: Engine,
    request: Request,
    progress: Callable[[float], None],
    check_cancel: Callable[[], None],
    send_segment: SegmentCallback,
) -> object:
    try:
        return Done(engine.handle(request, progress, check_cancel, send_segment))
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
