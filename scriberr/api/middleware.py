"""Pure ASGI middleware: assigns/echoes `X-Request-ID` and turns unhandled errors into a
sanitised 500 envelope. Pure ASGI (not `BaseHTTPMiddleware`) so streamed and SSE bodies pass
through unbuffered."""

from __future__ import annotations

import json
import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scriberr.api.errors import error_body, is_openai_path
from scriberr.ids import new_id

logger = logging.getLogger("scriberr.api")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def pick_request_id(incoming: str | None) -> str:
    """Echo a well-formed client request ID, or generate `req_…`."""
    if incoming and _VALID_REQUEST_ID.match(incoming):
        return incoming
    return new_id("req")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = pick_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error on %s %s (request %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if started:
                raise
            body = json.dumps(
                error_body(
                    "INTERNAL",
                    "Internal server error.",
                    request_id=request_id,
                    openai_status=500 if is_openai_path(str(scope.get("path", ""))) else None,
                )
            ).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
