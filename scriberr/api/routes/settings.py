"""`GET/PATCH /api/v1/settings`: the caller's settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CurrentUser
from scriberr.api.schemas import ERROR_RESPONSES, StrictModel, UtcDateTime
from scriberr.services.settings import SettingsService, SettingsView

router = APIRouter(prefix="/api/v1/settings", tags=["settings"], responses=ERROR_RESPONSES)


def get_settings_service(request: Request) -> SettingsService:
    service: SettingsService = request.app.state.core.settings
    return service


SettingsDep = Annotated[SettingsService, Depends(get_settings_service)]


class SettingsOut(BaseModel):
    auto_transcription_enabled: bool = Field(
        description="A new upload starts a transcription with the default profile."
    )
    auto_rename_enabled: bool = Field(
        description="Title new transcriptions from their content. Accepted and kept, but "
        "always false for now: this server cannot generate titles yet."
    )
    default_profile_id: str | None
    local_only: bool
    max_upload_size_mb: int = Field(
        description="The upload limit in effect for you, in MB (never null): your own cap, or "
        "the server limit when you have none."
    )
    user_max_upload_size_mb: int | None = Field(
        description="Your own cap as set (null = none, the server limit applies)."
    )
    server_max_upload_size_mb: int
    effective_max_upload_size_mb: int
    updated_at: UtcDateTime | None

    @classmethod
    def of(cls, view: SettingsView) -> SettingsOut:
        return cls(
            auto_transcription_enabled=view.auto_transcription_enabled,
            auto_rename_enabled=view.auto_rename_enabled,
            default_profile_id=view.default_profile_id,
            local_only=view.local_only,
            max_upload_size_mb=view.effective_max_upload_mb,
            user_max_upload_size_mb=view.max_upload_size_mb,
            server_max_upload_size_mb=view.server_max_upload_size_mb,
            effective_max_upload_size_mb=view.effective_max_upload_mb,
            updated_at=view.updated_at,
        )


class SettingsPatch(StrictModel):
    auto_transcription_enabled: bool | None = None
    auto_rename_enabled: bool | None = None
    default_profile_id: Annotated[str | None, Field(max_length=100)] = None
    local_only: bool | None = None
    max_upload_size_mb: Annotated[int | None, Field(ge=1)] = None


@router.get("", response_model=SettingsOut)
async def get_settings(user: CurrentUser, settings: SettingsDep) -> SettingsOut:
    return SettingsOut.of(await run_in_threadpool(settings.get, user.user_id))


@router.patch("", response_model=SettingsOut)
async def patch_settings(
    body: SettingsPatch, user: CurrentUser, settings: SettingsDep
) -> SettingsOut:
    """Change the given fields. `default_profile_id` and `max_upload_size_mb` accept null to
    clear; `auto_transcription_enabled`, `auto_rename_enabled` and `local_only` cannot be
    null."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    return SettingsOut.of(await run_in_threadpool(settings.update, user.user_id, changes))
