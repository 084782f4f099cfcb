"""Model routes: the catalog with installed/default state, `GET /api/v1/models` in upstream
Scriberr's model-card shape (its web frontend reads it); admins download (202, then
`model.download.*` events on the global stream) and remove models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AdminUser, CoreDep, CurrentUser
from scriberr.api.schemas import ErrorEnvelope
from scriberr.services import pipeline
from scriberr.services.errors import Unprocessable

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


class ModelCardOut(BaseModel):
    """Upstream Scriberr's model card (the fields its web frontend reads), from our catalog."""

    model_config = {"protected_namespaces": ()}

    id: str
    display_name: str
    provider: str
    model_type: str = Field(description="`transcription` or `diarization`.")
    installed: bool
    default: bool
    tasks: list[str]
    languages: list[str]
    capabilities: dict[str, bool] = Field(
        description="Every upstream capability name mapped to whether this model has it."
    )
    parameter_schema: list[dict[str, Any]] = Field(
        description="The profile pipeline step options this model takes."
    )
    recommended_defaults: dict[str, Any]
    size_mb: int


class ModelCardList(BaseModel):
    items: list[ModelCardOut]
    next_cursor: str | None = None


def _card(model: Any, kind: str) -> ModelCardOut:
    schema = pipeline.parameter_schema(model, kind)
    tasks = ["diarize"] if kind == pipeline.DIARIZATION else ["transcribe"]
    if kind == pipeline.TRANSCRIPTION and pipeline.capability_map(model, kind)["translation"]:
        tasks.append("translate")
    return ModelCardOut(
        id=model.id,
        display_name=model.name,
        provider=model.provider,
        model_type=kind,
        installed=model.installed,
        default=model.default,
        tasks=tasks,
        languages=list(model.languages) if kind == pipeline.TRANSCRIPTION else [],
        capabilities=pipeline.capability_map(model, kind),
        parameter_schema=schema,
        recommended_defaults={p["key"]: p["default"] for p in schema if "default" in p},
        size_mb=model.size_mb,
    )


@router.get(
    "",
    response_model=ModelCardList,
    summary="Every model as upstream Scriberr's model cards, optionally by capability",
)
async def model_cards(
    core: CoreDep,
    user: CurrentUser,
    capability: Annotated[
        str | None,
        Query(
            max_length=300,
            description="Comma-separated capability names (e.g. `transcription`, "
            "`diarization`, `translation`); a model is listed when it has all of them.",
        ),
    ] = None,
) -> ModelCardList:
    wanted = [name.strip() for name in (capability or "").split(",") if name.strip()]
    for name in wanted:
        if name not in pipeline.CAPABILITY_NAMES:
            raise Unprocessable(
                "capability must be one of: " + ", ".join(pipeline.CAPABILITY_NAMES),
                field="capability",
            )
    transcription = await run_in_threadpool(core.providers.transcription_models)
    diarization = await run_in_threadpool(core.providers.diarization_models)
    cards = [_card(m, pipeline.TRANSCRIPTION) for m in transcription]
    cards += [_card(m, pipeline.DIARIZATION) for m in diarization]
    return ModelCardList(
        items=[card for card in cards if all(card.capabilities[name] for name in wanted)]
    )


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
