"""Model routes: the catalog with installed/default state; admins download (202, then
`model.download.*` events on the global stream) and remove models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AdminUser, CoreDep, CurrentUser
from scriberr.api.schemas import ErrorEnvelope

router = APIRouter(prefix="/api/v1/models", tags=["models"])


class ModelOut(BaseModel):
    model_config = {"protected_namespaces": ()}

    id: str
    name: str
    provider: str
    installed: bool
    default: bool
    capabilities: list[str]
    languages: list[str]
    size_mb: int


class ModelList(BaseModel):
    items: list[ModelOut]


def _items(models: Sequence[Any]) -> ModelList:
    return ModelList(
        items=[
            ModelOut(
                id=m.id,
                name=m.name,
                provider=m.provider,
                installed=m.installed,
                default=m.default,
                capabilities=list(m.capabilities),
                languages=list(m.languages),
                size_mb=m.size_mb,
            )
            for m in models
        ]
    )


@router.get("/transcription", response_model=ModelList, summary="Transcription models")
async def transcription_models(core: CoreDep, user: CurrentUser) -> ModelList:
    return _items(await run_in_threadpool(core.providers.transcription_models))


@router.get("/diarization", response_model=ModelList, summary="Diarization models")
async def diarization_models(core: CoreDep, user: CurrentUser) -> ModelList:
    return _items(await run_in_threadpool(core.providers.diarization_models))


class DownloadOut(BaseModel):
    id: str
    status: str


_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "Not an administrator"},
    404: {"model": ErrorEnvelope, "description": "Unknown model, or not in the cache"},
    409: {"model": ErrorEnvelope, "description": "Installed, bundled or downloading"},
}


@router.post(
    "/{model_id}:download",
    status_code=202,
    response_model=DownloadOut,
    summary="Download a model into the cache (admins)",
    description="Starts the download and answers at once; progress arrives on "
    "`GET /api/v1/events` as `model.download.progress`, then `model.download.completed` or "
    "`model.download.failed`.",
    responses=_ADMIN_ERRORS,
)
async def download_model(model_id: str, core: CoreDep, user: AdminUser) -> DownloadOut:
    started = await run_in_threadpool(core.models.start_download, user.user_id, model_id)
    return DownloadOut(id=started.id, status=started.status)


@router.delete(
    "/{model_id}",
    status_code=204,
    summary="Remove a downloaded or imported model (admins)",
    responses=_ADMIN_ERRORS,
)
async def remove_model(model_id: str, core: CoreDep, user: AdminUser) -> Response:
    await run_in_threadpool(core.models.remove, model_id)
    return Response(status_code=204)
