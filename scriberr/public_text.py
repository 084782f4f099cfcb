"""The one sanitiser of text shown to users: no filesystem paths, URLs, tokens, secrets or
native-library output in a job error, job log line, event or error message.

`sanitize(text)` keeps the first line, scrubs it and bounds its length. Every layer that stores or
shows such text uses it: the orchestrator when it stores errors and log lines, the services as the
last guard when they return them.
"""

from __future__ import annotations

import re

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


def public_text(text: str | None) -> str | None:
    """`sanitize` for optional text (None and "" stay as they are)."""
    return sanitize(text) if text else text
