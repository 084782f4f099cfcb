"""Configuration: every SCRIBERR_*/SPEECH_ENGINE_*/TRANSCRIPTION_* variable, parsed and validated once.

`load_config(os.environ)` returns an immutable `Config`; an invalid value raises `ConfigError`, whose
message is one line naming the variable, the bad value and what is allowed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scriberr.layout import DataLayout

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
EngineProvider = Literal["auto", "cpu", "cuda"]
LogFormat = Literal["text", "json"]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
_SERVER_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/%]*)?$")
_WORKER_KEY = re.compile(r"^swk_[A-Za-z0-9_\-]{20,200}$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# SPEECH_ENGINE_PRELOAD: `default` stands for the default model plus diarization (the engine
# expands it and checks every ID against its catalog); `none` preloads nothing.
PRELOAD_DEFAULT = "default"
PRELOAD_NONE = "none"
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


class ConfigError(ValueError):
    """An environment variable holds a value the server cannot start with."""

    def __init__(self, variable: str, value: str, allowed: str) -> None:
        super().__init__(f"invalid {variable}={value!r}: expected {allowed}")
        self.variable = variable
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    host: str
    port: int
    secret_key: str | None
    max_upload_mb: int
    engine_cache_dir: Path
    engine_default_model: str
    engine_provider: EngineProvider
    engine_threads: int
    engine_max_loaded: int
    engine_auto_download: bool
    workers: int
    poll_interval_s: float
    lease_timeout_s: float
    openai_retention_s: float
    log_level: str
    log_format: LogFormat
    # Models to load when the engine starts: catalog IDs, `PRELOAD_DEFAULT`, or () for none.
    engine_preload: tuple[str, ...]
    cors_origins: tuple[str, ...] = ()
    forwarded_allow_ips: tuple[IpNetwork, ...] = ()
    import_allow_private: bool = False
    upload_stall_timeout_s: float = 60.0
    sse_heartbeat_s: float = 15.0  # SCRIBERR_SSE_HEARTBEAT: comment cadence on event streams
    # A remote `scriberr worker` fetches job audio it cannot find in its own data dir from
    # `server_url` (SCRIBERR_SERVER_URL), authenticated with `worker_key` (SCRIBERR_WORKER_KEY).
    server_url: str | None = None
    worker_key: str | None = field(default=None, repr=False)

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def layout(self) -> DataLayout:
        """Where everything lives inside the data dir."""
        return DataLayout(self.data_dir)

    @property
    def uploads_dir(self) -> Path:
        return self.layout.uploads

    @property
    def transcripts_dir(self) -> Path:
        return self.layout.transcripts

    @property
    def jobs_dir(self) -> Path:
        """Per-job scratch space (normalised audio) under the data dir."""
        return self.layout.jobs


def parse_duration(text: str) -> float:
    """Parse the compact duration form (`500ms`, `2s`, `10m`, `1h30m`) into seconds."""
    cleaned = text.strip().lower()
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            raise ValueError(text)
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(cleaned):
        raise ValueError(text)
    return total


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str, default: str) -> str:
        value = self._env.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(name, str(default))
        allowed = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(name, value, allowed) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise ConfigError(name, value, allowed)
        return number

    def duration(self, name: str, default: str, minimum_s: float) -> float:
        value = self.raw(name, default)
        allowed = "a duration like 500ms, 2s, 10m or 1h30m" + (
            f" of at least {minimum_s:g}s" if minimum_s > 0 else ""
        )
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise ConfigError(name, value, allowed) from None
        if seconds <= 0 or seconds < minimum_s:
            raise ConfigError(name, value, allowed)
        return seconds

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, "true" if default else "false")
        try:
            return parse_bool(value)
        except ValueError:
            raise ConfigError(name, value, "one of true/false/1/0/yes/no") from None

    def origins(self, name: str) -> tuple[str, ...]:
        """A comma list of browser origins (`scheme://host[:port]`, no path)."""
        value = self.raw(name, "")
        origins = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ConfigError(name, value, "comma-separated origins like https://app.example")
        return origins

    def networks(self, name: str) -> tuple[IpNetwork, ...]:
        """A comma list of IP addresses or CIDR networks."""
        value = self.raw(name, "")
        networks: list[IpNetwork] = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(
                    name, value, "comma-separated IP addresses or networks like 10.0.0.0/8"
                ) from None
        return tuple(networks)

    def model_list(self, name: str, default: str) -> tuple[str, ...]:
        """`none` (empty), or a comma list of model IDs and/or `default` (order kept, no
        repeats). Whether each ID is in the catalog is checked by the engine at startup."""
        value = self.raw(name, default)
        allowed = f"{PRELOAD_DEFAULT}, {PRELOAD_NONE} or a comma-separated list of model IDs"
        if value.lower() == PRELOAD_NONE:
            return ()
        items = [item.strip().lower() for item in value.split(",")]
        if not all(_MODEL_ID.fullmatch(item) and item != PRELOAD_NONE for item in items):
            raise ConfigError(name, value, allowed)
        return tuple(dict.fromkeys(items))

    def server_link(self) -> tuple[str | None, str | None]:
        """SCRIBERR_SERVER_URL and SCRIBERR_WORKER_KEY: both or neither. The key's value never
        appears in an error message."""
        url = self.raw("SCRIBERR_SERVER_URL", "").rstrip("/") or None
        key = self.raw("SCRIBERR_WORKER_KEY", "") or None
        if url is not None and not _SERVER_URL.match(url):
            raise ConfigError(
                "SCRIBERR_SERVER_URL", url, "the server's base URL, like http://scriberr:8080"
            )
        if key is not None and not _WORKER_KEY.match(key):
            raise ConfigError(
                "SCRIBERR_WORKER_KEY", "<hidden>", "a worker key (swk_…) from an admin"
            )
        if url is None and key is not None:
            raise ConfigError("SCRIBERR_SERVER_URL", "", "the server URL the worker key is for")
        if url is not None and key is None:
            raise ConfigError(
                "SCRIBERR_WORKER_KEY", "", "a worker key (swk_…) when SCRIBERR_SERVER_URL is set"
            )
        return url, key

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name, default).lower()
        if value not in choices:
            raise ConfigError(name, value, "one of " + "/".join(choices))
        return value


def load_config(env: Mapping[str, str]) -> Config:
    """Read and validate the whole configuration; raises `ConfigError` on the first bad value."""
    read = _Reader(env)
    data_dir = Path(read.raw("SCRIBERR_DATA_DIR", "data")).expanduser().absolute()
    database_url = read.raw(
        "SCRIBERR_DATABASE_URL", f"sqlite:///{DataLayout(data_dir).database_file}"
    )
    if not database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ConfigError(
            "SCRIBERR_DATABASE_URL", database_url, "a sqlite:/// or postgresql:// URL"
        )
    provider = read.choice("SPEECH_ENGINE_PROVIDER", "auto", ("auto", "cpu", "cuda"))
    log_format = read.choice("SCRIBERR_LOG_FORMAT", "text", ("text", "json"))
    server_url, worker_key = read.server_link()
    return Config(
        data_dir=data_dir,
        database_url=database_url,
        host=read.raw("SCRIBERR_HOST", "127.0.0.1"),
        port=read.integer("SCRIBERR_PORT", 8080, minimum=0, maximum=65535),
        secret_key=env.get("SCRIBERR_SECRET_KEY") or None,
        max_upload_mb=read.integer("SCRIBERR_MAX_UPLOAD_MB", 2048, minimum=1),
        engine_cache_dir=Path(read.raw("SPEECH_ENGINE_CACHE_DIR", str(DataLayout(data_dir).models)))
        .expanduser()
        .absolute(),
        engine_default_model=read.raw("SPEECH_ENGINE_DEFAULT_MODEL", "whisper-tiny.en"),
        engine_provider=provider,  # type: ignore[arg-type]
        engine_threads=read.integer("SPEECH_ENGINE_THREADS", 0, minimum=0),
        engine_max_loaded=read.integer("SPEECH_ENGINE_MAX_LOADED", 2, minimum=1),
        engine_auto_download=read.boolean("SPEECH_ENGINE_AUTO_DOWNLOAD", True),
        workers=read.integer("TRANSCRIPTION_WORKERS", 1, minimum=0),
        poll_interval_s=read.duration("TRANSCRIPTION_QUEUE_POLL_INTERVAL", "2s", minimum_s=0),
        lease_timeout_s=read.duration("TRANSCRIPTION_LEASE_TIMEOUT", "10m", minimum_s=1),
        openai_retention_s=read.duration("SCRIBERR_OPENAI_RETENTION", "24h", minimum_s=0),
        log_level=read.choice("SCRIBERR_LOG_LEVEL", "info", _LOG_LEVELS),
        log_format=log_format,  # type: ignore[arg-type]
        cors_origins=read.origins("SCRIBERR_CORS_ORIGINS"),
        forwarded_allow_ips=read.networks("SCRIBERR_FORWARDED_ALLOW_IPS"),
        import_allow_private=read.boolean("SCRIBERR_IMPORT_ALLOW_PRIVATE", False),
        upload_stall_timeout_s=read.duration("SCRIBERR_UPLOAD_STALL_TIMEOUT", "60s", minimum_s=0),
        engine_preload=read.model_list("SPEECH_ENGINE_PRELOAD", PRELOAD_DEFAULT),
        sse_heartbeat_s=read.duration("SCRIBERR_SSE_HEARTBEAT", "15s", minimum_s=0.05),
        server_url=server_url,
        worker_key=worker_key,
    )


def resolve_secret_key(config: Config) -> str:
    """The configured secret, or one generated on first start and kept in the data dir.

    Several processes may start at once on a fresh data dir: each writes a candidate to its own
    temporary file and hard-links it into place, which only the first succeeds at; everyone then
    uses the key that won.
    """
    if config.secret_key:
        return config.secret_key
    key_file = config.layout.secret_key_file
    if not key_file.exists():
        config.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=config.data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as candidate:  # mkstemp creates it 0600
                candidate.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, key_file)
        finally:
            os.unlink(temporary)
    return key_file.read_text().strip()
