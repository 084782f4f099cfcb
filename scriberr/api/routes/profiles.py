"""Profiles routes: named option presets, at most one default per user. Options are accepted
flat or in upstream Scriberr's `pipeline` shape and returned in both."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import Caller, CoreDep, CurrentUser
from scriberr.api.job_schemas import ProfileOptionsIn
from scriberr.api.json_body import page_response
from scriberr.api.listing_lane import run_listing
from scriberr.clock import rfc3339
from scriberr.services.profiles import ProfileRecord

if TYPE_CHECKING:
    from scriberr.bootstrap import Core

router = APIRouter(prefix="/api/v1/profiles", tags=["profiles"])

ProfileId = Annotated[str, Path(description="Profile ID (`profile_…`).", max_length=64)]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    options: ProfileOptionsIn = Field(default_factory=ProfileOptionsIn)
    is_default: bool = False


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    options: ProfileOptionsIn | None = None
    is_default: bool | None = None


class ProfileOut(BaseModel):
    id: str
    name: str
    description: str | None
    options: dict[str, Any] = Field(
        description="The flat options plus `pipeline`, the same preset in upstream's shape."
    )
    is_default: bool
    created_at: str
    updated_at: str


class ProfileList(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None = None


def profile_fields(core: Core, profile: ProfileRecord) -> dict[str, Any]:
    """The public JSON object of a profile (`ProfileOut`) as plain JSON types."""
    return {
        "id": profile.id,
        "name": profile.name,
        "description": profile.description,
        "options": core.profiles.options_view(profile),
        "is_default": profile.is_default,
        "created_at": rfc3339(profile.created_at) or "",
        "updated_at": rfc3339(profile.updated_at) or "",
    }


def profile_out(core: Core, profile: ProfileRecord) -> ProfileOut:
    return ProfileOut.model_validate(profile_fields(core, profile))


@router.get("", response_model=ProfileList, summary="List profiles")
async def list_profiles(request: Request, core: CoreDep, caller: Caller) -> Response:
    def page() -> Response:
        user = caller.authenticate(core.auth)  # in the same thread-pool call as the query
        profiles = core.profiles.list_for_user(user.user_id)
        return page_response([profile_fields(core, p) for p in profiles])

    return await run_listing(request, page)


@router.post(
    "", response_model=ProfileOut, status_code=status.HTTP_201_CREATED, summary="Create a profile"
)
async def create_profile(body: ProfileIn, core: CoreDep, user: CurrentUser) -> ProfileOut:
    profile = await run_in_threadpool(
        lambda: core.profiles.create(
            user.user_id,
            name=body.name,
            description=body.description,
            options=body.options.model_dump(exclude_none=True),
            is_default=body.is_default,
        )
    )
    return profile_out(core, profile)


@router.get("/{profile_id}", response_model=ProfileOut, summary="Get a profile")
async def get_profile(profile_id: ProfileId, core: CoreDep, user: CurrentUser) -> ProfileOut:
    profile = await run_in_threadpool(core.profiles.get, user.user_id, profile_id)
    return profile_out(core, profile)


@router.patch("/{profile_id}", response_model=ProfileOut, summary="Update a profile")
async def update_profile(
    profile_id: ProfileId, body: ProfilePatch, core: CoreDep, user: CurrentUser
) -> ProfileOut:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "options":
            changes[name] = value.model_dump(exclude_none=True) if value is not None else {}
        elif name == "name" and value is None:
            continue
        else:
            changes[name] = value
    profile = await run_in_threadpool(core.profiles.update, user.user_id, profile_id, changes)
    return profile_out(core, profile)


@router.delete("/{profile_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a profile")
async def delete_profile(profile_id: ProfileId, core: CoreDep, user: CurrentUser) -> None:
    await run_in_threadpool(core.profiles.delete, user.user_id, profile_id)


@router.post(
    "/{profile_id}:set-default", response_model=ProfileOut, summary="Make this the default profile"
)
async def set_default_profile(
    profile_id: ProfileId, core: CoreDep, user: CurrentUser
) -> ProfileOut:
    profile = await run_in_threadpool(core.profiles.set_default, user.user_id, profile_id)
    return profile_out(core, profile)
