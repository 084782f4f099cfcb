"""Make error text safe for users: no filesystem paths, tokens, secrets or native output.

`sanitize(text)` scrubs a message; `public_error(exc)` turns any exception into the one-line text
stored on the job and execution rows. Only `EngineError` messages are shown (scrubbed again, to be
safe); anything else becomes a generic message while the internal log keeps the detail.
"""

from __future__ import annotations

import re

from scriberr.engine.base import EngineError

GENERIC_ERROR = "internal engine error"
MAX_LENGTH = 300

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "[redacted]"),  # JWT
    (
        re.compile(r"(?i)\b(?:sk|pk|rk|hf|api|key|token|ghp|gho|xox[abp])[_-][\w-]{4,}"),
        "[redacted]",
    ),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization)\b\s*[=:]\s*\S+"
        ),
        r"\1=[redacted]",
    ),
    (re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://\S+"), "[url]"),
    (re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][^\s\\/'\"<>|:;,]+)+[\\/]?"), "[path]"),
    (re.compile(r"~[\\/]\S*"), "[path]"),
    (re.compile(r"\b[\w.-]+(?:[\\/][\w.-]+){2,}"), "[path]"),
    (re.compile(r"\b[\w.-]+[\\/][\w.-]+\.[A-Za-z0-9]{1,5}\b"), "[path]"),
    (re.compile(r"\b[A-Fa-f0-9]{32,}\b|\b[A-Za-z0-9+/_-]{40,}={0,2}"), "[redacted]"),
)


def sanitize(text: str) -> str:
    """First line only, scrubbed, bounded length."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    cleaned = lines[0] if lines else ""
    cleaned = "".join(ch for ch in cleaned if ch.isprintable())
    for pattern, replacement in _RULES:
        cleaned = pattern.sub(replacement, cleaned)
    if len(cleaned) > MAX_LENGTH:
        cleaned = cleaned[: MAX_LENGTH - 1] + "…"
    return cleaned


def public_error(error: BaseException) -> str:
    """The user-visible text for a failed attempt."""
    if isinstance(error, EngineError):
        return sanitize(error.public_message) or GENERIC_ERROR
    return GENERIC_ERROR
