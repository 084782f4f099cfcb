"""API key routes: list, create (raw key shown once) and delete (revoke)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AuthDep, Caller, CurrentUser
from scriberr.api.json_body import page_response
from scriberr.api.listing_lane import run_listing
from scriberr.api.schemas import ERROR_RESPONSES, StrictModel, UtcDateTime
from scriberr.clock import rfc3339
from scriberr.services.auth import ApiKeyView

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"], responses=ERROR_RESPONSES)


class ApiKeyIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] = "API key"
    description: Annotated[str | None, Field(max_length=1000)] = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    description: str | None
    key_preview: str = Field(description="Like `sk_...abcd`.")
    preview: str = Field(description="Same as `key_preview` (kept for older clients).")
    is_active: bool
    last_used_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime | None

    @classmethod
    def of(cls, view: ApiKeyView) -> ApiKeyOut:
        return cls.model_validate(api_key_fields(view))


def api_key_fields(view: ApiKeyView) -> dict[str, Any]:
    """The public JSON object of a key (`ApiKeyOut`) as plain JSON types."""
    return {
        "id": view.id,
        "name": view.name,
        "description": view.description,
        "key_preview": view.preview,
        "preview": view.preview,
        "is_active": view.is_active,
        "last_used_at": rfc3339(view.last_used_at),
        "created_at": rfc3339(view.created_at),
        "updated_at": rfc3339(view.updated_at),
    }


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(description="The raw key. It is shown only in this response.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = None


@router.get("", response_model=ApiKeyList)
async def list_api_keys(request: Request, caller: Caller, auth: AuthDep) -> Response:
    def page() -> Response:
        user = caller.authenticate(auth)  # in the same thread-pool call as the query
        return page_response([api_key_fields(k) for k in auth.list_api_keys(user)])

    return await run_listing(request, page)


@router.post("", response_model=CreatedApiKeyOut, status_code=201)
async def create_api_key(
    user: CurrentUser, auth: AuthDep, body: ApiKeyIn | None = None
) -> CreatedApiKeyOut:
    request = body or ApiKeyIn()
    created = await run_in_threadpool(auth.create_api_key, user, request.name, request.description)
    view = ApiKeyOut.of(created.view)
    return CreatedApiKeyOut(**view.model_dump(), key=created.key)


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def delete_api_key(
    key_id: Annotated[str, Path(max_length=100)], user: CurrentUser, auth: AuthDep
) -> Response:
    await run_in_threadpool(auth.delete_api_key, user, key_id)
    return Response(status_code=204)
