"""Domain errors raised by services; the API maps each to its HTTP status and error code.

Messages are public: never put a path, token or native-library output in one. One message style,
applied here to every message: one sentence ending with a period, starting with a capital letter
unless it starts with the name of its field or another identifier (`title must be a string.`).
"""

from __future__ import annotations

from scriberr.jobs import OptionError


class ServiceError(Exception):
    code = "INTERNAL"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        styled = message_style(message, field)
        super().__init__(styled)
        self.message = styled
        self.field = field


class InvalidRequest(ServiceError):
    code, status = "INVALID_REQUEST", 400


class Unauthorized(ServiceError):
    code, status = "UNAUTHORIZED", 401


class Forbidden(ServiceError):
    code, status = "FORBIDDEN", 403


class NotFound(ServiceError):
    code, status = "NOT_FOUND", 404


class Conflict(ServiceError):
    code, status = "CONFLICT", 409


class RequestTimeout(ServiceError):
    code, status = "REQUEST_TIMEOUT", 408


class PreconditionFailed(ServiceError):
    """A conditional request (`If-Match`) whose condition no longer holds."""

    code, status = "PRECONDITION_FAILED", 412


class PreconditionRequired(ServiceError):
    """A change that must be conditional (`If-Match`) arrived without its condition."""

    code, status = "PRECONDITION_REQUIRED", 428


class PayloadTooLarge(ServiceError):
    code, status = "PAYLOAD_TOO_LARGE", 413


class UnsupportedMediaType(ServiceError):
    code, status = "UNSUPPORTED_MEDIA_TYPE", 415


class RangeNotSatisfiable(ServiceError):
    code, status = "RANGE_NOT_SATISFIABLE", 416

    def __init__(self, message: str, *, size: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.size = size  # of the resource, for `Content-Range: bytes */<size>`


class Unprocessable(ServiceError):
    code, status = "UNPROCESSABLE", 422


class RateLimited(ServiceError):
    code, status = "RATE_LIMITED", 429

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s  # for `Retry-After`


class ServiceUnavailable(ServiceError):
    code, status = "SERVICE_UNAVAILABLE", 503


def message_style(message: str, field: str | None = None) -> str:
    """The one message style (see the module docstring)."""
    text = message.strip()
    if not text:
        return text
    first = text.split(" ", 1)[0]
    names = {field, field.rsplit(".", 1)[-1]} if field else set()
    identifier = first in names or any(mark in first for mark in "_.'`-:") or first.isupper()
    if not identifier:
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def option_error(error: OptionError) -> ServiceError:
    """The service error for a bad job option: 400 when malformed, else 422."""
    kind = InvalidRequest if error.malformed else Unprocessable
    return kind(error.message, field=error.field)
