"""Admin routes: the caller's queue statistics."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class QueueStats(BaseModel):
    queued: int
    processing: int
    completed: int
    failed: int
    canceled: int
    running: int


@router.get("/queue", response_model=QueueStats, summary="Queue statistics for the caller")
async def queue_stats(core: CoreDep, user: CurrentUser) -> QueueStats:
    stats = await run_in_threadpool(core.workers.stats, user.user_id)
    return QueueStats(**{key: int(stats.get(key, 0)) for key in QueueStats.model_fields})
