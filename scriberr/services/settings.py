"""Per-user settings: auto transcription, default profile, local-only, a personal upload cap
that can only lower the server's `SCRIBERR_MAX_UPLOAD_MB`, and upstream's `auto_rename_enabled`
(the user's choice is kept, but it reads false: this server cannot generate titles yet)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scriberr.clock import utcnow
from scriberr.persistence.settings_repository import SettingsRepository
from scriberr.services.errors import Unprocessable

_FIELDS = (
    "auto_transcription_enabled",
    "auto_rename_enabled",
    "default_profile_id",
    "local_only",
    "max_upload_size_mb",
)
_SWITCHES = ("auto_transcription_enabled", "auto_rename_enabled", "local_only")
# Automatic titles need a language model this server does not have; until it does, the
# setting is kept as the user chose it but reported (and acted on) as off.
TITLE_GENERATION_AVAILABLE = False


@dataclass(frozen=True)
class SettingsView:
    auto_transcription_enabled: bool
    default_profile_id: str | None
    local_only: bool
    max_upload_size_mb: int | None  # the user's own cap; None = the server limit
    server_max_upload_size_mb: int
    updated_at: datetime | None
    auto_rename_requested: bool = False  # what the user asked for

    @property
    def auto_rename_enabled(self) -> bool:
        """In effect only once titles can be generated."""
        return self.auto_rename_requested and TITLE_GENERATION_AVAILABLE

    @property
    def effective_max_upload_mb(self) -> int:
        if self.max_upload_size_mb is None:
            return self.server_max_upload_size_mb
        return min(self.max_upload_size_mb, self.server_max_upload_size_mb)

    @property
    def effective_max_upload_bytes(self) -> int:
        return self.effective_max_upload_mb * 1024 * 1024


class SettingsService:
    def __init__(
        self,
        repository: SettingsRepository,
        server_max_upload_mb: int,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repository
        self._server_max = server_max_upload_mb
        self._now = clock

    def get(self, user_id: str) -> SettingsView:
        row = self._repo.get(user_id)
        if row is None:
            return SettingsView(False, None, True, None, self._server_max, None)
        return SettingsView(
            auto_transcription_enabled=bool(row.auto_transcription_enabled),
            default_profile_id=row.default_profile_id,
            local_only=bool(row.local_only),
            max_upload_size_mb=row.max_upload_size_mb,
            server_max_upload_size_mb=self._server_max,
            updated_at=row.updated_at,
            auto_rename_requested=bool(row.auto_rename_enabled),
        )

    def update(self, user_id: str, changes: dict[str, Any]) -> SettingsView:
        """Apply the given fields (absent = unchanged; `None` clears the nullable ones)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            name = sorted(unknown)[0]
            raise Unprocessable(f"{name} is not a setting.", field=name)
        prepared: dict[str, Any] = {}
        for name in _SWITCHES:
            if name in changes:
                if not isinstance(changes[name], bool):
                    raise Unprocessable(f"{name} must be true or false.", field=name)
                prepared[name] = changes[name]
        if "default_profile_id" in changes:
            profile_id = changes["default_profile_id"]
            if profile_id is not None and not self._repo.profile_belongs_to(user_id, profile_id):
                raise Unprocessable(
                    "default_profile_id: no such profile.", field="default_profile_id"
                )
            prepared["default_profile_id"] = profile_id
        if "max_upload_size_mb" in changes:
            cap = changes["max_upload_size_mb"]
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
                raise Unprocessable(
                    "max_upload_size_mb must be a positive integer.", field="max_upload_size_mb"
                )
            if cap is not None and cap > self._server_max:
                raise Unprocessable(
                    f"max_upload_size_mb can only lower the server limit of {self._server_max} MB.",
                    field="max_upload_size_mb",
                )
            prepared["max_upload_size_mb"] = cap
        if prepared:
            self._repo.upsert(user_id, prepared, self._now())
        return self.get(user_id)

    def max_upload_bytes(self, user_id: str) -> int:
        return self.get(user_id).effective_max_upload_bytes
