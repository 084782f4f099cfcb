"""Worker key routes (admins only): create (the raw key is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AdminUser, CoreDep
from scriberr.api.schemas import ERROR_RESPONSES, ErrorEnvelope, StrictModel, UtcDateTime
from scriberr.services.worker_keys import WorkerKeyView

router = APIRouter(prefix="/api/v1/admin/worker-keys", tags=["admin"], responses=ERROR_RESPONSES)

WorkerKeyId = Annotated[str, Path(max_length=100, description="A `wkey_…` ID.")]
_ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorEnvelope, "description": "Not an admin"},
}


class WorkerKeyIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="What the key is for, e.g. the GPU box that uses it."
    )


class WorkerKeyOut(BaseModel):
    id: str
    name: str
    key_preview: str = Field(description="Like `swk_...abcd`.")
    is_active: bool
    created_at: UtcDateTime
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None

    @classmethod
    def of(cls, view: WorkerKeyView) -> WorkerKeyOut:
        return cls(
            id=view.id,
            name=view.name,
            key_preview=view.preview,
            is_active=view.active,
            created_at=view.created_at,
            last_used_at=view.last_used_at,
            revoked_at=view.revoked_at,
        )


class CreatedWorkerKeyOut(WorkerKeyOut):
    key: str = Field(description="The raw key (`swk_…`). It is shown only in this response.")


class WorkerKeyList(BaseModel):
    items: list[WorkerKeyOut]
    next_cursor: str | None = None


@router.post("", response_model=CreatedWorkerKeyOut, status_code=201, responses=_ADMIN_ERRORS)
async def create_worker_key(
    body: WorkerKeyIn, admin: AdminUser, core: CoreDep
) -> CreatedWorkerKeyOut:
    """A key a remote `scriberr worker` uses (`SCRIBERR_WORKER_KEY`) to fetch the audio of the
    jobs it runs. It opens nothing else."""
    created = await run_in_threadpool(core.worker_keys.create, body.name, admin.user_id)
    return CreatedWorkerKeyOut(**WorkerKeyOut.of(created.view).model_dump(), key=created.key)


@router.get("", response_model=WorkerKeyList, responses=_ADMIN_ERRORS)
async def list_worker_keys(admin: AdminUser, core: CoreDep) -> WorkerKeyList:
    """Every worker key, revoked ones included, newest first (never the key itself)."""
    keys = await run_in_threadpool(core.worker_keys.list)
    return WorkerKeyList(items=[WorkerKeyOut.of(key) for key in keys])


@router.delete("/{key_id}", status_code=204, response_class=Response, responses=_ADMIN_ERRORS)
async def revoke_worker_key(key_id: WorkerKeyId, admin: AdminUser, core: CoreDep) -> Response:
    """Revoke the key: from the next request on, workers using it cannot fetch audio (they put
    their jobs back and report themselves unhealthy)."""
    await run_in_threadpool(core.worker_keys.revoke, key_id)
    return Response(status_code=204)
