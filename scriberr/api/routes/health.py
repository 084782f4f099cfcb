"""Liveness and readiness: `GET /health`, `GET /api/v1/health`, `GET /api/v1/ready` (public)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "unavailable"]


@router.get("/health", response_model=HealthOut, summary="Liveness")
async def health() -> HealthOut:
    return HealthOut()


@router.get("/api/v1/health", response_model=HealthOut, summary="Liveness")
async def health_v1() -> HealthOut:
    return HealthOut()


@router.get(
    "/api/v1/ready",
    response_model=ReadyOut,
    summary="Readiness (database reachable)",
    responses={503: {"model": ReadyOut, "description": "Not ready"}},
)
async def ready(core: CoreDep) -> JSONResponse:
    ok = await run_in_threadpool(core.database.ping)
    if ok:
        return JSONResponse({"status": "ready", "database": "ok"})
    return JSONResponse({"status": "unavailable", "database": "unavailable"}, status_code=503)
