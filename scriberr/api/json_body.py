"""Pre-serialised JSON responses for the hot read routes (the collection listings, the
transcript).

A route that returns one of these skips FastAPI's response-model validation and its generic
encoder: it builds plain dicts of JSON types (times already RFC 3339 strings), and orjson encodes
the whole body once. The route keeps its `response_model`, so the OpenAPI schema is unchanged;
`tests/api/test_list_responses.py` checks that every list item still matches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Response

JSON_MEDIA_TYPE = "application/json"


def json_body_response(content: Any, status_code: int = 200) -> Response:
    """`content` (dicts, lists, str, int, float, bool, None) encoded once as compact UTF-8 JSON."""
    return Response(orjson.dumps(content), status_code=status_code, media_type=JSON_MEDIA_TYPE)


def page_response(items: Iterable[dict[str, Any]], next_cursor: str | None = None) -> Response:
    """A collection page, `{"items": [...], "next_cursor": ...}`."""
    return json_body_response({"items": list(items), "next_cursor": next_cursor})
