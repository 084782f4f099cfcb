"""Profiles routes: named option presets, at most one default per user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser
from scriberr.api.job_schemas import JobOptionsIn
from scriberr.api.json_body import page_response
from scriberr.clock import rfc3339
from scriberr.services.profiles import ProfileRecord

router = APIRouter(prefix="/api/v1/profiles", tags=["profiles"])

ProfileId = Annotated[str, Path(description="Profile ID (`profile_…`).", max_length=64)]


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    options: JobOptionsIn = Field(default_factory=JobOptionsIn)
    is_default: bool = False


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    options: JobOptionsIn | None = None
    is_default: bool | None = None


class ProfileOut(BaseModel):
    id: str
    name: str
    description: str | None
    options: dict[str, Any]
    is_default: bool
    created_at: str
    updated_at: str


class ProfileList(BaseModel):
    items: list[ProfileOut]
    next_cursor: str | None = None


def profile_fields(profile: ProfileRecord) -> dict[str, Any]:
    """The public JSON object of a profile (`ProfileOut`) as plain JSON types."""
    return {
        "id": profile.id,
        "name": profile.name,
        "description": profile.description,
        "options": profile.options,
        "is_default": profile.is_default,
        "created_at": rfc3339(profile.created_at) or "",
        "updated_at": rfc3339(profile.updated_at) or "",
    }


def profile_out(profile: ProfileRecord) -> ProfileOut:
    return ProfileOut.model_validate(profile_fields(profile))


@router.get("", response_model=ProfileList, summary="List profiles")
async def list_profiles(core: CoreDep, user: CurrentUser) -> Response:
    profiles = await run_in_threadpool(core.profiles.list_for_user, user.user_id)
    return page_response([profile_fields(p) for p in profiles])


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
    return profile_out(profile)


@router.get("/{profile_id}", response_model=ProfileOut, summary="Get a profile")
async def get_profile(profile_id: ProfileId, core: CoreDep, user: CurrentUser) -> ProfileOut:
    return profile_out(await run_in_threadpool(core.profiles.get, user.user_id, profile_id))


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
    return profile_out(profile)


@router.delete("/{profile_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a profile")
async def delete_profile(profile_id: ProfileId, core: CoreDep, user: CurrentUser) -> None:
    await run_in_threadpool(core.profiles.delete, user.user_id, profile_id)


@router.post(
    "/{profile_id}:set-default", response_model=ProfileOut, summary="Make this the default profile"
)
async def set_default_profile(
    profile_id: ProfileId, core: CoreDep, user: CurrentUser
) -> ProfileOut:
    return profile_out(await run_in_threadpool(core.profiles.set_default, user.user_id, profile_id))
