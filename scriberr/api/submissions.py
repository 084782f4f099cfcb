"""Upload-and-transcribe in one request (`:submit` and the OpenAI-compatible endpoint).

Order matters so bad input leaves nothing behind: the multipart body is streamed to a staging
file, the job request (profile, options) is validated, and only then is the file stored through
the file service (which probes the content: 415 for non-media). If creating the job still fails,
the stored file is deleted again — except on 503 (shutting down), where the `queued` row keeps
its file for the next start.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from scriberr.api.uploads import ReceivedUpload, receive_upload
from scriberr.jobs import Origin
from scriberr.services.errors import InvalidRequest, ServiceUnavailable
from scriberr.services.transcriptions import Plan, TranscriptionRecord

if TYPE_CHECKING:
    from scriberr.bootstrap import Core


async def receive(request: Request, core: Core, user_id: str) -> ReceivedUpload:
    """Stream the body to the staging area with the caller's upload limit enforced."""
    limit = await run_in_threadpool(_upload_limit, core, user_id)
    return await receive_upload(request, limit, core.files.staging_dir)


def parse_options_field(raw: str | None, field: str = "options") -> dict[str, Any] | None:
    """The `options` multipart field: a JSON object string (malformed → 400 naming the field)."""
    if raw is None or not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise InvalidRequest("options must be a JSON object string", field=field) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("options must be a JSON object", field=field)
    return parsed


async def create_from_upload(
    core: Core,
    user_id: str,
    upload: ReceivedUpload,
    *,
    title: str | None,
    profile_id: str | None,
    options: Mapping[str, Any] | None,
    options_prefix: str = "options",
    origin: Origin = Origin.LIBRARY,
) -> TranscriptionRecord:
    staged = upload.file
    if staged is None:
        raise InvalidRequest("a file is required", field="file")
    stored_id: str | None = None
    try:
        plan: Plan = await run_in_threadpool(
            lambda: core.transcriptions.plan(
                user_id,
                title=title,
                profile_id=profile_id,
                options=options,
                request_prefix=options_prefix,
            )
        )
        stored = await run_in_threadpool(
            lambda: core.files.create_from_upload(user_id, staged, title=title, origin=origin)
        )
        stored_id = stored.id
        file = await run_in_threadpool(core.transcriptions.file_for, user_id, stored_id)
        return await run_in_threadpool(core.transcriptions.create_planned, user_id, file, plan)
    except ServiceUnavailable:
        raise
    except BaseException:
        staged.discard()
        if stored_id is not None:
            await run_in_threadpool(_delete_file_quietly, core, user_id, stored_id)
        raise


async def submit_upload(
    request: Request, core: Core, user_id: str, *, options_field: str = "options"
) -> TranscriptionRecord:
    """`POST /api/v1/transcriptions:submit`: fields `file`, `title?`, `profile_id?`, `options?`."""
    upload = await receive(request, core, user_id)
    try:
        options = parse_options_field(upload.field(options_field), options_field)
    except InvalidRequest:
        if upload.file is not None:
            upload.file.discard()
        raise
    return await create_from_upload(
        core,
        user_id,
        upload,
        title=upload.field("title"),
        profile_id=upload.field("profile_id") or None,
        options=options,
    )


def _delete_file_quietly(core: Core, user_id: str, file_id: str) -> None:
    with contextlib.suppress(Exception):  # the original error is what the client needs
        core.files.delete(user_id, file_id)


def _upload_limit(core: Core, user_id: str) -> int:
    return core.files.upload_limit_bytes(user_id)
