"""Builds the account-side services (auth, settings, files) and wires them to the transcription
side, for the composition root.

`build_account_services(config, database, broker, transcriptions)` returns them;
`attach_account_services(core)` sets `core.auth`, `core.settings` and `core.files` on a Core that
does not have them yet (a no-op otherwise), so `scriberr serve` and the tests share one wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scriberr.config import Config, resolve_secret_key
from scriberr.persistence.auth_repository import (
    ApiKeyRepository,
    RefreshTokenRepository,
    UserRepository,
)
from scriberr.persistence.database import Database
from scriberr.services.auth import AuthService
from scriberr.services.files import FileService, Publisher
from scriberr.services.settings import SettingsService


@dataclass
class AccountServices:
    auth: AuthService
    settings: SettingsService
    files: FileService


def build_account_services(
    config: Config,
    database: Database,
    broker: Publisher,
    transcriptions: Any = None,
    **file_options: Any,
) -> AccountServices:
    """`transcriptions` (a `TranscriptionService`) provides `delete_all_for_file`,
    `on_file_ready` and `cancel`; without it, deleting a file leaves its transcriptions alone and uploads
    never start jobs (unit tests only)."""
    auth = AuthService(
        UserRepository(database),
        RefreshTokenRepository(database),
        ApiKeyRepository(database),
        resolve_secret_key(config),
    )
    settings = SettingsService.build(config, database)
    files = FileService.build(config, database, broker, settings, **file_options)
    if transcriptions is not None:
        files.wire(
            delete_transcriptions=transcriptions.delete_all_for_file,
            on_file_ready=transcriptions.on_file_ready,
            cancel_transcription=transcriptions.cancel,
        )
    return AccountServices(auth=auth, settings=settings, files=files)


def attach_account_services(core: Any, **file_options: Any) -> Any:
    """Give `core` its `auth`, `settings` and `files` services unless it already has them."""
    if all(getattr(core, name, None) is not None for name in ("auth", "settings", "files")):
        return core
    services = build_account_services(
        core.config,
        core.database,
        core.broker,
        getattr(core, "transcriptions", None),
        **file_options,
    )
    core.auth = services.auth
    core.settings = services.settings
    core.files = services.files
    return core
