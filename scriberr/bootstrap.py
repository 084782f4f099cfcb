"""The composition root: builds and wires everything except HTTP, and owns its lifetime.

`build_core(config)` opens the database (running migrations), builds the broker, the engine
provider registry, the queue repositories, the orchestrator, the worker service and — on
PostgreSQL — the signals between processes (`queue.signals`: LISTEN/NOTIFY for wake, cancel and
events) — and starts nothing. `Core.start()` starts listening, then the workers (after recovery);
`Core.close()` stops the workers (running jobs are interrupted and requeued), the signals, closes
the providers, then the database.
This is the only module that holds process-wide objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from argon2 import PasswordHasher

from scriberr.clock import utcnow
from scriberr.config import Config, resolve_secret_key
from scriberr.engine.registry import ProviderRegistry, build_provider_registry
from scriberr.events.broker import EventBroker
from scriberr.ids import new_id
from scriberr.logging_setup import log_event
from scriberr.orchestrator import Orchestrator
from scriberr.orchestrator.audio_source import AudioSource, RemoteAudio
from scriberr.persistence.auth_repository import (
    ApiKeyRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserRepository,
)
from scriberr.persistence.database import Database
from scriberr.persistence.files_repository import FileRepository
from scriberr.persistence.idempotency_repository import IdempotencyRepository
from scriberr.persistence.job_log_repository import JobLogRepository
from scriberr.persistence.profile_repository import ProfileRepository
from scriberr.persistence.queue_repository import QueueRepository
from scriberr.persistence.search_repository import SearchRepository
from scriberr.persistence.segment_repository import SegmentRepository
from scriberr.persistence.settings_repository import SettingsRepository
from scriberr.persistence.transcript_repository import TranscriptRepository
from scriberr.persistence.transcription_repository import TranscriptionRepository
from scriberr.persistence.worker_key_repository import JobAudioRepository, WorkerKeyRepository
from scriberr.privacy import create_private_dirs
from scriberr.queue.service import WorkerService, WorkerSettings
from scriberr.queue.signals import ClusterSignals
from scriberr.services.auth import AuthService, LoginThrottle
from scriberr.services.egress import is_public_address
from scriberr.services.files import FileService
from scriberr.services.idempotency import IdempotencyService
from scriberr.services.importer import YtDlpImporter
from scriberr.services.models import ModelService
from scriberr.services.profiles import ProfileService
from scriberr.services.retention import RetentionSweeper
from scriberr.services.search import SearchService
from scriberr.services.settings import SettingsService
from scriberr.services.transcriptions import TranscriptionService
from scriberr.services.transcripts import TranscriptService
from scriberr.services.worker_keys import WorkerKeyService

_log = logging.getLogger("scriberr")
_SIGNALS_READY_S = 5.0


@dataclass
class Core:
    """Everything except HTTP: infrastructure, the worker service and the services."""

    config: Config
    database: Database
    broker: EventBroker
    providers: ProviderRegistry
    queue: QueueRepository
    job_logs: JobLogRepository
    orchestrator: Orchestrator
    workers: WorkerService
    profiles: ProfileService
    transcriptions: TranscriptionService
    auth: AuthService
    settings: SettingsService
    files: FileService
    idempotency: IdempotencyService
    retention: RetentionSweeper
    transcripts: TranscriptService
    search: SearchService
    models: ModelService
    worker_keys: WorkerKeyService
    signals: ClusterSignals | None = None  # PostgreSQL only

    def start(self) -> None:
        """Start loading the preload models (in the background), listening to the other
        processes, the workers (recovery runs first, before any claim) and the retention
        sweep."""
        self.providers.preload()
        if self.signals is not None:
            self.signals.start()
            self.signals.listener.wait_connected(_SIGNALS_READY_S)  # else: polling until it is
        self.workers.start()
        self.retention.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop imports and workers (bounded by `timeout`), close the providers, then the
        database."""
        self.retention.stop()
        self.files.close()
        self.models.close()
        self.workers.stop(timeout)
        if self.signals is not None:
            self.signals.close()
        self.orchestrator.close()
        try:
            self.providers.close()
        finally:
            self.database.close()
            log_event(_log, "shutdown.complete", process_id=self.workers.process_id)


def build_core(
    config: Config,
    *,
    providers: ProviderRegistry | None = None,
    worker_only: bool = False,
    password_hasher: PasswordHasher | None = None,
) -> Core:
    """Wire the core for `config`; `providers` is the engine registry when the caller built it
    (the CLI, to start the preload early; tests; `--fake-engine`), else the real one is built;
    `password_hasher` replaces argon2's default cost (tests only: a cheap hash keeps them fast).
    `worker_only` (`scriberr worker`): the data dir may not be the server's, so audio missing
    there is fetched from `SCRIBERR_SERVER_URL` or the job is put back, never failed; and there
    are no event-stream clients, so on PostgreSQL the process sends its events to the others but
    does not receive theirs.

    Raises `ConfigError` (one line) for `SPEECH_ENGINE_PROVIDER=cuda` without CUDA and for a
    `SPEECH_ENGINE_DEFAULT_MODEL` the catalog does not know.
    """
    registry = providers if providers is not None else build_provider_registry(config)
    registry.check_default_model()
    config.layout.create()
    create_private_dirs(config.data_dir)
    database = Database(config.database_url)
    database.migrate()
    broker = EventBroker()
    process_id = new_id("worker")
    queue = QueueRepository(database, signal_origin=process_id)
    job_logs = JobLogRepository(database)
    segments = SegmentRepository(database)
    audio = _audio_source(config, database, worker_only)
    orchestrator = Orchestrator(
        repository=queue,
        job_logs=job_logs,
        providers=registry,
        broker=broker,
        layout=config.layout,
        defaults=registry.default_options,
        segments=segments,
        audio=audio,
    )
    workers = WorkerService(
        repository=queue,
        orchestrator=orchestrator,
        job_logs=job_logs,
        broker=broker,
        settings=WorkerSettings(
            workers=config.workers,
            poll_interval_s=config.poll_interval_s,
            lease_s=config.lease_timeout_s,
            dead_retention_s=config.worker_retention_s,
            worker_timeout_s=config.worker_timeout_s,
        ),
        process_id=process_id,
        audio_check=audio.check,
    )
    signals = None
    if not database.is_sqlite:
        signals = ClusterSignals(
            origin=process_id,
            database=database,
            broker=broker,
            wake=workers.notify,
            cancel=workers.stop_canceled,
            receive_events=not worker_only,
        )
    _log_startup(config, registry, workers)
    settings = SettingsService(SettingsRepository(database), config.max_upload_mb)
    profiles, transcriptions = _build_job_services(
        config, database, broker, registry, queue, job_logs, workers
    )
    files = FileService(
        FileRepository(database),
        settings,
        broker,
        config.data_dir,
        importer=YtDlpImporter(None if config.import_allow_private else is_public_address),
        delete_transcriptions=transcriptions.delete_all_for_file,
        on_file_ready=transcriptions.on_file_ready,
    )
    auth = AuthService(
        UserRepository(database),
        RefreshTokenRepository(database),
        ApiKeyRepository(database),
        resolve_secret_key(config),
        throttle=LoginThrottle(LoginFailureRepository(database)),
        hasher=password_hasher,
    )
    return Core(
        config, database, broker, registry, queue, job_logs, orchestrator, workers,
        profiles=profiles, transcriptions=transcriptions, auth=auth, settings=settings,
        files=files, idempotency=IdempotencyService(IdempotencyRepository(database)),
        retention=RetentionSweeper(files, config.openai_retention_s, utcnow),
        transcripts=TranscriptService(
            transcriptions=TranscriptionRepository(database),
            documents=TranscriptRepository(database),
        ),
        search=SearchService(SearchRepository(database)),
        models=ModelService(registry, broker),
        worker_keys=WorkerKeyService(WorkerKeyRepository(database), JobAudioRepository(database)),
        signals=signals,
    )  # fmt: skip


def _audio_source(config: Config, database: Database, worker_only: bool) -> AudioSource:
    """The data dir, plus (for a `scriberr worker` with SCRIBERR_SERVER_URL) the server."""
    remote = None
    if worker_only and config.server_url and config.worker_key:
        remote = RemoteAudio(config.server_url, config.worker_key)
    return AudioSource(
        config.layout,
        remote=remote,
        authoritative=not worker_only,
        stored_size=JobAudioRepository(database).stored_size,
    )


def _build_job_services(
    config: Config,
    database: Database,
    broker: EventBroker,
    registry: ProviderRegistry,
    queue: QueueRepository,
    job_logs: JobLogRepository,
    workers: WorkerService,
) -> tuple[ProfileService, TranscriptionService]:
    """Profiles and transcriptions (request > profile > default profile > config defaults)."""
    defaults = registry.default_options
    profiles = ProfileService(ProfileRepository(database), registry, defaults)
    transcriptions = TranscriptionService(
        repository=TranscriptionRepository(database),
        queue=queue,
        workers=workers,
        broker=broker,
        profiles=profiles,
        catalog=registry,
        defaults=defaults,
        data_dir=config.data_dir,
        job_logs=job_logs,
        settings=SettingsRepository(database),
        segments=SegmentRepository(database),
    )
    return profiles, transcriptions


def _log_startup(config: Config, registry: ProviderRegistry, workers: WorkerService) -> None:
    resolved = ",".join(
        f"{provider.name}:{provider.capabilities().device}" for provider in registry.providers
    )
    log_event(
        _log,
        "startup.config",
        data_dir=str(config.data_dir),
        database=config.database_kind,
        cache_dir=str(config.engine_cache_dir),
        engine_provider_requested=config.engine_provider,
        engine_provider_resolved=resolved,
        engine_threads=config.engine_threads,
        engine_max_loaded=config.engine_max_loaded,
        engine_auto_download=config.engine_auto_download,
        default_model=registry.default_model,
        workers=config.workers,
        poll_interval_s=config.poll_interval_s,
        lease_s=config.lease_timeout_s,
        heartbeat_interval_s=workers.settings.heartbeat_interval,
        worker_timeout_s=config.worker_timeout_s,
        signals="in-process" if config.database_kind == "sqlite" else "listen/notify",
        process_id=workers.process_id,
    )
