"""Model catalog routes: transcription and diarization models with installed/default state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser

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
