"""Fuzz tests (hypothesis) for what clients can tamper with: cursors, Range headers and request
headers. Whatever the input, the answer is a clean 4xx (or success), never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriberr.api.ranges import parse_range
from scriberr.services.errors import InvalidRequest, RangeNotSatisfiable
from scriberr.services.pagination import Cursor, decode_cursor, parse_sort

from .conftest import Account, upload

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "title", "-title")
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
_header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=80
)
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _encode(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@given(text=st.text(max_size=200), sort=st.sampled_from(SORTS))
def test_any_cursor_text_decodes_or_is_invalid(text: str, sort: str) -> None:
    spec = parse_sort(sort, ("created_at", "updated_at", "title"), "-created_at")
    try:
        cursor = decode_cursor(text, spec)
    except InvalidRequest as error:
        assert error.field == "cursor"
    else:
        assert cursor is None or isinstance(cursor, Cursor)


@given(
    payload=st.one_of(
        _json,
        st.tuples(st.sampled_from(SORTS), _json, _json).map(list),
        st.tuples(
            st.sampled_from(SORTS),
            st.dictionaries(st.just("dt"), st.text(max_size=40) | _json, max_size=1),
            st.text(max_size=20),
        ).map(list),
    ),
    sort=st.sampled_from(SORTS),
)
def test_tampered_cursor_payloads_are_invalid_or_well_typed(payload: Any, sort: str) -> None:
    spec = parse_sort(sort, ("created_at", "updated_at", "title"), "-created_at")
    try:
        cursor = decode_cursor(_encode(payload), spec)
    except InvalidRequest as error:
        assert error.field == "cursor"
        return
    assert cursor is not None and isinstance(cursor.id, str)
    if spec.field.endswith("_at"):
        assert cursor.value is not None and cursor.value.tzinfo is not None  # type: ignore[union-attr]
    else:
        assert cursor.value is None or isinstance(cursor.value, str)


@given(
    header=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda a, b: f"bytes={a}-{b}",
            st.integers(min_value=0, max_value=10**40).map(str) | st.just(""),
            st.integers(min_value=0, max_value=10**40).map(str) | st.just(""),
        ),
    ),
    size=st.integers(min_value=0, max_value=10**12),
)
def test_any_range_header_is_a_valid_range_whole_file_or_416(header: str, size: int) -> None:
    try:
        selected = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if selected is not None:
        assert 0 <= selected.start <= selected.end < size
        assert selected.length == selected.end - selected.start + 1


@pytest.fixture
def file_id(client: Any, user: Account) -> str:
    created: str = upload(client, user.headers).json()["id"]
    return created


@settings(max_examples=60, deadline=None, suppress_health_check=_HEALTH)
@given(
    cursor=st.text(max_size=120) | st.builds(_encode, _json),
    sort=st.sampled_from(SORTS),
)
def test_list_routes_never_500_on_any_cursor(
    client: Any, user: Account, cursor: str, sort: str
) -> None:
    for route in ("/api/v1/files", "/api/v1/transcriptions"):
        response = client.get(route, params={"cursor": cursor, "sort": sort}, headers=user.headers)
        assert response.status_code in (200, 400, 422), (route, cursor, response.text)


@settings(max_examples=60, deadline=None, suppress_health_check=_HEALTH)
@given(
    range_header=_header_text,
    request_id=_header_text,
    content_type=_header_text,
    idempotency=_header_text,
    authorization=_header_text,
)
def test_tampered_headers_never_500(
    client: Any,
    user: Account,
    file_id: str,
    range_header: str,
    request_id: str,
    content_type: str,
    idempotency: str,
    authorization: str,
) -> None:
    audio = client.get(
        f"/api/v1/files/{file_id}/audio",
        headers={**user.headers, "Range": range_header, "X-Request-ID": request_id},
    )
    assert audio.status_code in (200, 206, 416), (range_header, audio.text[:200])
    echoed = audio.headers["x-request-id"]
    assert echoed == request_id or echoed.startswith("req_")
    created = client.post(
        "/api/v1/transcriptions",
        content=json.dumps({"file_id": file_id}).encode(),
        headers={**user.headers, "Content-Type": content_type, "Idempotency-Key": idempotency},
    )
    assert created.status_code < 500, (content_type, idempotency, created.text)
    anyone = client.get("/api/v1/files", headers={"Authorization": authorization})
    assert anyone.status_code == 401
