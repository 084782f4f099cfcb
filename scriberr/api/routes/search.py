"""`GET /api/v1/search`: full-text search over the caller's transcripts and titles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser
from scriberr.api.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["search"], responses=ERROR_RESPONSES)


class SearchItemOut(BaseModel):
    transcription_id: str
    segment_id: str | None
    start: float | None
    snippet: str


class SearchPage(BaseModel):
    items: list[SearchItemOut]
    next_cursor: str | None


@router.get(
    "/search",
    response_model=SearchPage,
    summary="Search the current revision of every transcript you own, and their titles",
    description=(
        'Words match whole words; `"a phrase"`, `prefix*` and `-excluded` work; other '
        "punctuation is ignored. Hits come newest first; `segment_id` is null for a title "
        "match. The snippet is HTML-escaped with matches in `<mark>`."
    ),
)
async def search(
    core: CoreDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=10_000, description="What to look for.")],
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(description="Default 50, capped at 200.")] = None,
) -> SearchPage:
    page = await run_in_threadpool(
        lambda: core.search.search(user.user_id, q, cursor=cursor, limit=limit)
    )
    return SearchPage(
        items=[
            SearchItemOut(
                transcription_id=item.transcription_id,
                segment_id=item.segment_id,
                start=item.start,
                snippet=item.snippet,
            )
            for item in page.items
        ],
        next_cursor=page.next_cursor,
    )
