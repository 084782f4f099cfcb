"""The error envelope: every error response is `{"error": {code, message, field, request_id}}`.

Routes under `/v1` (the OpenAI-compatible API) answer in OpenAI's shape instead:
`{"error": {"message", "type", "param", "code", "request_id"}}`, with `code` our error code and
`param` the field, so OpenAI SDKs raise their usual typed errors.

Installs exception handlers for domain errors (`services.errors.ServiceError`), request validation
errors, Starlette HTTP errors (404 unknown route, 405, …) and anything unhandled (a sanitised 500).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from scriberr.api.openai_formats import openai_error_type
from scriberr.services.errors import RangeNotSatisfiable, RateLimited, ServiceError

logger = logging.getLogger("scriberr.api")

_STATUS_CODES: dict[int, str] = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    411: "INVALID_REQUEST",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "UNPROCESSABLE",
    428: "PRECONDITION_REQUIRED",
    429: "RATE_LIMITED",
    500: "INTERNAL",
    503: "SERVICE_UNAVAILABLE",
}
_DEFAULT_MESSAGES: dict[int, str] = {
    401: "Authentication required.",
    404: "Not found.",
    405: "Method not allowed.",
    500: "Internal server error.",
}


class ApiError(Exception):
    """An HTTP-level error raised by API code (not a domain error)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def request_id_of(request: Request) -> str | None:
    """The request ID assigned by the request-ID middleware (None outside it)."""
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


OPENAI_PREFIX = "/v1/"


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX) or path == OPENAI_PREFIX.rstrip("/")


def error_body(
    code: str,
    message: str,
    *,
    field: str | None = None,
    request_id: str | None = None,
    openai_status: int | None = None,
) -> dict[str, Any]:
    """Our envelope; with `openai_status`, OpenAI's error shape for that HTTP status."""
    if openai_status is not None:
        return {
            "error": {
                "message": message,
                "type": openai_error_type(openai_status),
                "param": field,
                "code": code,
                "request_id": request_id,
            }
        }
    return {"error": {"code": code, "message": message, "field": field, "request_id": request_id}}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    openai_status = status if is_openai_path(request.url.path) else None
    body = error_body(
        code, message, field=field, request_id=request_id_of(request), openai_status=openai_status
    )
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def field_path(location: Sequence[Any]) -> str | None:
    """`("body", "options", "language")` → `options.language`; list indexes become `[0]`."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or None


def _validation_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "Invalid value."))
    # Pydantic prefixes custom validator messages; keep them readable.
    message = message.removeprefix("Value error, ")
    return message if message.endswith(".") else message + "."


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers: dict[str, str] = {}
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.status >= 500:
        logger.error("service error %s: %s", exc.code, exc.message)
    return error_response(
        request, exc.status, exc.code, exc.message, field=exc.field, headers=headers
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        request, exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first: Mapping[str, Any] = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return error_response(request, 400, "INVALID_REQUEST", "Malformed JSON body.")
    location = tuple(first.get("loc", ()))
    field = field_path(location)
    if first.get("type") == "missing" and location[:1] == ("body",) and field is None:
        return error_response(request, 400, "INVALID_REQUEST", "A JSON body is required.")
    if location[:1] == ("body",) and field is None:
        return error_response(
            request, 400, "INVALID_REQUEST", "The request body must be a JSON object."
        )
    message = _validation_message(first)
    if field:
        message = f"{field}: {message}"
    return error_response(request, 422, "UNPROCESSABLE", message, field=field)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _STATUS_CODES.get(status, "INVALID_REQUEST" if status < 500 else "INTERNAL")
    detail = exc.detail if isinstance(exc.detail, str) else None
    if status >= 500 or not detail or detail in ("Not Found", "Method Not Allowed"):
        message = _DEFAULT_MESSAGES.get(status, "Request failed.")
    else:
        message = detail
    return error_response(request, status, code, message, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    # Unhandled exceptions are turned into the sanitised 500 by `RequestContextMiddleware`, so
    # that the response still carries `X-Request-ID`.


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "request_id": {"type": ["string", "null"]},
            },
        }
    },
}
