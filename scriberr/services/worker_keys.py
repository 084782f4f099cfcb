"""Worker keys: the credential a remote `scriberr worker` fetches job audio with.

A key is `swk_<random>`, shown once at creation and stored as a SHA-256 hash with a
`swk_...abcd` preview. It opens only the worker audio route (the audio of a job that is
`processing` right now); every other route refuses it, and a user's token or API key is refused
on the worker route. Admins create, list and revoke keys (HTTP or `scriberr workers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scriberr.clock import as_utc, utcnow
from scriberr.ids import new_id
from scriberr.persistence.models import WorkerKey
from scriberr.persistence.worker_key_repository import (
    JobAudio,
    JobAudioRepository,
    WorkerKeyRepository,
)
from scriberr.services.auth import credential_hash, mint_key
from scriberr.services.errors import InvalidRequest, NotFound, Unauthorized

WORKER_KEY_PREFIX = "swk_"
TOUCH_INTERVAL = timedelta(seconds=60)
_MAX_NAME = 200
_INVALID_KEY = "Invalid or revoked worker key."


@dataclass(frozen=True)
class WorkerKeyView:
    id: str
    name: str
    preview: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedWorkerKey:
    key: str  # shown once, never stored
    view: WorkerKeyView


@dataclass(frozen=True)
class WorkerCaller:
    """A request authenticated with a worker key."""

    key_id: str
    name: str


def is_worker_key(credential: str) -> bool:
    return credential.startswith(WORKER_KEY_PREFIX)


def _view(key: WorkerKey) -> WorkerKeyView:
    return WorkerKeyView(
        id=key.id,
        name=key.name,
        preview=key.preview,
        created_at=as_utc(key.created_at),
        last_used_at=as_utc(key.last_used_at) if key.last_used_at else None,
        revoked_at=as_utc(key.revoked_at) if key.revoked_at else None,
    )


class WorkerKeyService:
    def __init__(
        self,
        keys: WorkerKeyRepository,
        audio: JobAudioRepository,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._keys = keys
        self._audio = audio
        self._now = clock

    def create(self, name: str, created_by: str | None = None) -> CreatedWorkerKey:
        label = name.strip()
        if not label or len(label) > _MAX_NAME or not label.isprintable():
            raise InvalidRequest(f"name must be 1-{_MAX_NAME} printable characters.", field="name")
        minted = mint_key(WORKER_KEY_PREFIX)
        key = WorkerKey(
            id=new_id("wkey"),
            name=label,
            key_hash=minted.key_hash,
            preview=minted.preview,
            created_by=created_by,
            created_at=self._now(),
            last_used_at=None,
            revoked_at=None,
        )
        self._keys.add(key)
        return CreatedWorkerKey(key=minted.raw, view=_view(key))

    def list(self) -> list[WorkerKeyView]:
        return [_view(key) for key in self._keys.all()]

    def revoke(self, key_id: str) -> None:
        if not self._keys.revoke(key_id, self._now()):
            raise NotFound("Worker key not found.")

    def authenticate(self, raw_key: str) -> WorkerCaller:
        """The caller of a worker key; `Unauthorized` for anything else (a user's token or API
        key, an unknown or a revoked worker key)."""
        if not is_worker_key(raw_key):
            raise Unauthorized("This route needs a worker key.")
        key = self._keys.by_hash(credential_hash(raw_key))
        if key is None or key.revoked_at is not None:
            raise Unauthorized(_INVALID_KEY)
        now = self._now()
        if key.last_used_at is None or now - as_utc(key.last_used_at) >= TOUCH_INTERVAL:
            self._keys.touch(key.id, now)
        return WorkerCaller(key_id=key.id, name=key.name)

    def job_audio(self, transcription_id: str) -> JobAudio:
        """The audio of a job a worker is processing right now; `NotFound` otherwise (unknown,
        queued, finished, or no stored audio: a worker key reads nothing else)."""
        found = self._audio.processing(transcription_id)
        if found is None:
            raise NotFound("No job in progress has this ID.")
        return found
