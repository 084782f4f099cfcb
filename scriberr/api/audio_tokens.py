"""Audio tokens: a read-only stream token for one file's or one transcription's audio, and the
URL an `<audio>` element plays it from (upstream Scriberr's frontend asks for these)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.clock import rfc3339
from scriberr.services.auth import AuthService, Principal, audio_resource


class AudioTokenOut(BaseModel):
    token: str = Field(
        description="Read-only; valid as `?stream_token=` on this resource's audio route only."
    )
    url: str = Field(description="Same-origin URL of the audio with the token; plays with Range.")
    expires_at: str = Field(description="RFC 3339 UTC.")


async def audio_token(
    auth: AuthService, user: Principal, kind: str, resource_id: str, audio_path: str
) -> AudioTokenOut:
    """Mint the token for `kind:resource_id` (the caller has checked the resource is theirs)."""
    minted = await run_in_threadpool(
        auth.issue_stream_token, user, audio_resource(kind, resource_id)
    )
    return AudioTokenOut(
        token=minted.token,
        url=f"{audio_path}?stream_token={quote(minted.token, safe='')}",
        expires_at=rfc3339(minted.expires_at) or "",
    )
