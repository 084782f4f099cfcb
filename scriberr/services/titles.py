"""The one title rule, for files and transcriptions alike.

A title must be a string (else 400); control characters are dropped and runs of whitespace
become one space; an empty result means "no title" (None); more than `MAX_TITLE` characters is
422 naming the field.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from scriberr.services.errors import InvalidRequest, Unprocessable

MAX_TITLE = 500


def clean_title(title: Any, *, field: str = "title") -> str | None:
    if title is None:
        return None
    if not isinstance(title, str):
        raise InvalidRequest("title must be a string", field=field)
    printable = "".join(ch for ch in title if unicodedata.category(ch)[0] != "C" or ch.isspace())
    cleaned = " ".join(printable.split())
    if len(cleaned) > MAX_TITLE:
        raise Unprocessable(f"title is longer than {MAX_TITLE} characters", field=field)
    return cleaned or None
