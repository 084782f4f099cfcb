"""The global event stream of the caller: file and transcription events, each delivered once."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from scriberr.api.deps import CoreDep, StreamReader
from scriberr.api.job_streams import user_event_stream
from scriberr.api.stream_guard import guarded

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get(
    "/events",
    summary="Server-sent events for everything of the caller",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def user_events(request: Request, core: CoreDep, user: StreamReader) -> StreamingResponse:
    subscription = core.broker.subscribe(user.user_id)
    return StreamingResponse(
        guarded(user_event_stream(request, core, user.user_id, subscription), core.auth, user),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
