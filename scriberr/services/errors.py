"""Domain errors raised by services; the API maps each to its HTTP status and error code.

Messages are public: never put a path, token or native-library output in one.
"""

from __future__ import annotations

from scriberr.jobs import OptionError


class ServiceError(Exception):
    code = "INTERNAL"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
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


class PayloadTooLarge(ServiceError):
    code, status = "PAYLOAD_TOO_LARGE", 413


class UnsupportedMediaType(ServiceError):
    code, status = "UNSUPPORTED_MEDIA_TYPE", 415


class RangeNotSatisfiable(ServiceError):
    code, status = "RANGE_NOT_SATISFIABLE", 416


class Unprocessable(ServiceError):
    code, status = "UNPROCESSABLE", 422


class RateLimited(ServiceError):
    code, status = "RATE_LIMITED", 429


class ServiceUnavailable(ServiceError):
    code, status = "SERVICE_UNAVAILABLE", 503


def option_error(error: OptionError) -> ServiceError:
    """The service error for a bad job option: 400 when malformed, else 422."""
    kind = InvalidRequest if error.malformed else Unprocessable
    return kind(error.message, field=error.field)
