"""Open event streams end when their credential does: `guarded(...)` re-checks the caller's
session (user enabled, session not logged out, password unchanged, API key not revoked) every
`CHECK_INTERVAL_S` while it relays the stream, and closes it as soon as the check fails."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from scriberr.services.auth import AuthService, Principal

CHECK_INTERVAL_S = 1.0
_END = object()


async def guarded(
    stream: AsyncIterator[str],
    auth: AuthService,
    principal: Principal,
    interval_s: float = CHECK_INTERVAL_S,
) -> AsyncIterator[str]:
    """Relay `stream` while `principal`'s credential stays valid."""
    frames: asyncio.Queue[object] = asyncio.Queue(maxsize=16)

    async def pump() -> None:
        try:
            async for frame in stream:
                await frames.put(frame)
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                frames.put_nowait(_END)

    task = asyncio.create_task(pump())
    checked_at = time.monotonic()
    try:
        while True:
            try:
                item = await asyncio.wait_for(frames.get(), interval_s)
            except TimeoutError:
                item = None
            if item is _END or (item is None and task.done() and frames.empty()):
                return
            if time.monotonic() - checked_at >= interval_s or item is None:
                if not await run_in_threadpool(auth.still_valid, principal):
                    return
                checked_at = time.monotonic()
            if isinstance(item, str):
                yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
