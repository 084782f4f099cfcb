"""Admin routes: queue statistics (everyone's for an admin, the caller's otherwise), the worker
processes of the cluster (`/api/v1/admin/workers`, admins only) and account management
(`/api/v1/admin/users`, admins only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AdminUser, AuthDep, CoreDep, CurrentUser
from scriberr.api.schemas import ERROR_RESPONSES, ErrorEnvelope, StrictModel, UtcDateTime
from scriberr.jobs import WorkerProcessView
from scriberr.services.auth import UserUpdate, UserView

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ERROR_RESPONSES)

UserId = Annotated[str, Path(max_length=100, description="A `user_…` ID.")]
_Password = Annotated[str, Field(min_length=1, max_length=4096)]
_ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorEnvelope, "description": "Not an admin"},
    409: {"model": ErrorEnvelope, "description": "Conflict"},
}


class QueueStats(BaseModel):
    queued: int
    processing: int
    completed: int
    failed: int
    canceled: int
    running: int


class WorkerProcessOut(BaseModel):
    id: str = Field(description="The worker process ID (`worker_…`); worker ids are `<id>/<n>`.")
    host: str = Field(description="The plain host name of the machine it runs on.")
    pid: int = Field(description="Its process id (in its own pid namespace).")
    started_at: UtcDateTime
    last_heartbeat_at: UtcDateTime
    alive: bool = Field(description="Judged by the rules queue recovery uses.")
    state: Literal["alive", "dead"]
    dead_since: UtcDateTime | None = Field(
        description="When it was found dead or stopped; the row is pruned "
        "`TRANSCRIPTION_WORKER_RETENTION` later (default 24 h)."
    )
    running_jobs: int = Field(description="How many `processing` jobs it holds.")
    running_job_ids: list[str]
    unhealthy_reason: str | None = Field(
        description="Why a live process cannot take jobs right now (one line), if it says so."
    )

    @classmethod
    def of(cls, view: WorkerProcessView) -> WorkerProcessOut:
        return cls(
            id=view.id,
            host=view.host,
            pid=view.pid,
            started_at=view.started_at,
            last_heartbeat_at=view.heartbeat_at,
            alive=view.alive,
            state="alive" if view.alive else "dead",
            dead_since=None if view.alive else (view.dead_at or view.heartbeat_at),
            running_jobs=len(view.running_jobs),
            running_job_ids=list(view.running_jobs),
            unhealthy_reason=view.unhealthy_reason,
        )


class WorkerProcessList(BaseModel):
    items: list[WorkerProcessOut]


class AdminUserOut(BaseModel):
    id: str
    username: str
    role: Literal["admin", "member"]
    disabled: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime | None

    @classmethod
    def of(cls, view: UserView) -> AdminUserOut:
        return cls(
            id=view.id,
            username=view.username,
            role=view.role,  # type: ignore[arg-type]
            disabled=view.disabled,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class AdminUserList(BaseModel):
    items: list[AdminUserOut]
    next_cursor: str | None = None


class UserCreateIn(StrictModel):
    username: Annotated[str, Field(min_length=1, max_length=300)]
    password: _Password
    role: Literal["admin", "member"] = "member"


class UserPatchIn(StrictModel):
    role: Literal["admin", "member"] | None = None
    disabled: bool | None = None
    password: _Password | None = Field(None, description="A new password (a reset).")


@router.get("/queue", response_model=QueueStats, summary="Queue statistics")
async def queue_stats(core: CoreDep, user: CurrentUser) -> QueueStats:
    """Job counts by status: every user's for an admin, the caller's own for a member.
    `running` counts the jobs held by live worker processes anywhere in the cluster."""
    scope = None if user.is_admin else user.user_id
    stats = await run_in_threadpool(core.workers.stats, scope)
    return QueueStats(**{key: int(stats.get(key, 0)) for key in QueueStats.model_fields})


@router.get(
    "/workers",
    response_model=WorkerProcessList,
    responses=_ADMIN_ERRORS,
    summary="Worker processes of the cluster",
)
async def list_workers(admin: AdminUser, core: CoreDep) -> WorkerProcessList:
    """Every worker process registered in the shared database (this server's own included):
    live ones first, then dead ones, which stay listed until the retention period passes."""
    views = await run_in_threadpool(core.workers.processes)
    return WorkerProcessList(items=[WorkerProcessOut.of(view) for view in views])


@router.get("/users", response_model=AdminUserList, responses=_ADMIN_ERRORS)
async def list_users(admin: AdminUser, auth: AuthDep) -> AdminUserList:
    users = await run_in_threadpool(auth.list_users)
    return AdminUserList(items=[AdminUserOut.of(u) for u in users])


@router.post("/users", response_model=AdminUserOut, status_code=201, responses=_ADMIN_ERRORS)
async def create_user(body: UserCreateIn, admin: AdminUser, auth: AuthDep) -> AdminUserOut:
    """Add an account (registration is closed after the first user)."""
    view = await run_in_threadpool(auth.create_user, body.username, body.password, body.role)
    return AdminUserOut.of(view)


@router.get("/users/{user_id}", response_model=AdminUserOut, responses=_ADMIN_ERRORS)
async def get_user(user_id: UserId, admin: AdminUser, auth: AuthDep) -> AdminUserOut:
    return AdminUserOut.of(await run_in_threadpool(auth.get_user, user_id))


@router.patch("/users/{user_id}", response_model=AdminUserOut, responses=_ADMIN_ERRORS)
async def update_user(
    user_id: UserId, body: UserPatchIn, admin: AdminUser, auth: AuthDep
) -> AdminUserOut:
    """Set the role, disable or enable, or reset the password. Disabling and a reset end every
    session of that user at once. The last active admin cannot be demoted or disabled (409)."""
    update = UserUpdate(role=body.role, disabled=body.disabled, password=body.password)
    return AdminUserOut.of(await run_in_threadpool(auth.update_user, user_id, update))


@router.delete(
    "/users/{user_id}", status_code=204, response_class=Response, responses=_ADMIN_ERRORS
)
async def delete_user(user_id: UserId, admin: AdminUser, core: CoreDep) -> Response:
    """Delete the account and everything it owns (files, jobs, transcripts, keys, profiles)."""

    def remove() -> None:
        core.auth.check_deletable(user_id)
        core.transcriptions.delete_all_for_user(user_id)
        core.files.delete_all_for_user(user_id)
        core.auth.delete_user(user_id)

    await run_in_threadpool(remove)
    return Response(status_code=204)
