"""Turn a failed attempt's exception into the one-line error stored on the job and execution rows.

Only `EngineError` messages are shown (scrubbed by the one sanitiser, `scriberr.public_text`);
anything else becomes a generic message while the internal log keeps the detail.
"""

from __future__ import annotations

from scriberr.engine.base import EngineError
from scriberr.public_text import sanitize

__all__ = ["GENERIC_ERROR", "public_error", "sanitize"]

GENERIC_ERROR = "internal engine error"


def public_error(error: BaseException) -> str:
    """The user-visible text for a failed attempt."""
    if isinstance(error, EngineError):
        return sanitize(error.public_message) or GENERIC_ERROR
    return GENERIC_ERROR
