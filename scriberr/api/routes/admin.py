"""Admin routes: queue statistics (everyone's for an admin, the caller's otherwise) and account
management (`/api/v1/admin/users`, admins only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AdminUser, AuthDep, CoreDep, CurrentUser
from scriberr.api.schemas import ERROR_RESPONSES, ErrorEnvelope, StrictModel, UtcDateTime
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
    """Job counts by status: every user's for an admin, the caller's own for a member."""
    scope = None if user.is_admin else user.user_id
    stats = await run_in_threadpool(core.workers.stats, scope)
    return QueueStats(**{key: int(stats.get(key, 0)) for key in QueueStats.model_fields})


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
