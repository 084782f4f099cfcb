"""The listings' query parameters, read in one validation (`scriberr/api/query_params.py`):
bad values are the usual 422 naming the parameter, unknown ones are ignored, repeated ones are
lists only where the field is, and the OpenAPI schema documents them all."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import Account

LISTINGS = {
    "/api/v1/transcriptions": {
        "q",
        "file_id",
        "status",
        "updated_after",
        "sort",
        "cursor",
        "limit",
        "origin",
    },
    "/api/v1/files": {"q", "kind", "status", "sort", "cursor", "limit", "origin"},
    "/api/v1/transcriptions/{transcription_id}/executions": {"cursor", "limit"},
}


def test_the_openapi_schema_documents_every_listing_parameter_and_its_references_resolve(
    app: Any,
) -> None:
    spec = app.openapi()
    for path, names in LISTINGS.items():
        parameters = spec["paths"][path]["get"]["parameters"]
        assert {p["name"] for p in parameters if p["in"] == "query"} == names, path

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    components = spec["components"]["schemas"]
    for ref in refs(spec["paths"]):
        assert ref.removeprefix("#/components/schemas/") in components, ref


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/api/v1/transcriptions?limit=ten", "limit"),
        ("/api/v1/transcriptions?updated_after=yesterday", "updated_after"),
        ("/api/v1/transcriptions?q=" + "x" * 201, "q"),
        ("/api/v1/transcriptions?cursor=" + "c" * 1001, "cursor"),
        ("/api/v1/files?kind=podcast", "kind"),
        ("/api/v1/files?status=lost", "status"),
        ("/api/v1/files?sort=size", "sort"),
        ("/api/v1/files?limit=", "limit"),
    ],
)
def test_a_bad_value_is_a_422_naming_the_parameter(
    client: TestClient, user: Account, query: str, field: str
) -> None:
    response = client.get(query, headers=user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "UNPROCESSABLE" and error["field"] == field
    assert error["message"].startswith(f"{field}: ")


def test_unknown_parameters_are_ignored_and_repeated_statuses_are_a_list(
    client: TestClient, user: Account
) -> None:
    listed = client.get("/api/v1/transcriptions?colour=blue&limit=5", headers=user.headers)
    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
    for query in ("status=queued&status=failed", "status=queued,failed"):
        response = client.get(f"/api/v1/transcriptions?{query}", headers=user.headers)
        assert response.status_code == 200, response.text
    bad = client.get("/api/v1/transcriptions?status=queued&status=bogus", headers=user.headers)
    assert (
        bad.status_code == 400 and bad.json()["error"]["field"] == "status"
    )  # the service's check
    last = client.get("/api/v1/files?limit=ten&limit=2", headers=user.headers)
    assert last.status_code == 200  # the last value of a repeated single parameter counts


def test_a_request_without_credentials_is_a_401_whatever_its_query(client: TestClient) -> None:
    response = client.get("/api/v1/transcriptions?limit=ten")
    assert response.status_code == 401
