"""The collection listings are encoded straight from dicts, without response-model validation
(`scriberr.api.json_body`). These tests hold them to the documented models: every item has
exactly the model's fields, survives validation unchanged, equals what the single-item route
answers, and the OpenAPI schema still names the list models.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from scriberr.api.routes.api_keys import ApiKeyOut
from scriberr.api.routes.files import FileOut
from scriberr.api.routes.profiles import ProfileOut
from scriberr.api.routes.transcriptions import ExecutionOut, TranscriptionOut
from scriberr.clock import as_utc, rfc3339, rfc3339_text

from .conftest import JFK, Account, create_api_key, upload

TERMINAL = ("completed", "failed", "canceled")


def _assert_matches(model: type[BaseModel], item: dict[str, Any]) -> None:
    assert set(item) == set(model.model_fields), f"{model.__name__}: {sorted(item)}"
    assert model.model_validate(item).model_dump(mode="json") == item


def _list(client: TestClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"items", "next_cursor"}
    return body


def _wait_terminal(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(
            f"/api/v1/transcriptions/{job_id}", headers=headers
        ).json()
        if body["status"] in TERMINAL:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


@pytest.fixture
def populated(client: TestClient, user: Account) -> dict[str, Any]:
    """A real upload (jfk), a profile, an API key, one finished and one canceled job."""
    file = upload(client, user.headers, JFK, title="jfk")
    assert file.status_code == 201, file.text
    file_id = file.json()["id"]
    profile = client.post(
        "/api/v1/profiles",
        json={"name": "fast", "options": {"language": "en"}, "is_default": True},
        headers=user.headers,
    )
    assert profile.status_code == 201, profile.text
    create_api_key(client, user, "listing")
    done = client.post(
        "/api/v1/transcriptions", json={"file_id": file_id, "title": "done"}, headers=user.headers
    ).json()["id"]
    _wait_terminal(client, user.headers, done)
    other = client.post(
        "/api/v1/transcriptions", json={"file_id": file_id}, headers=user.headers
    ).json()["id"]
    client.post(f"/api/v1/transcriptions/{other}:cancel", headers=user.headers)
    _wait_terminal(client, user.headers, other)
    return {"file_id": file_id, "done": done, "other": other}


def test_transcription_items_match_the_model_and_the_single_item_route(
    client: TestClient, user: Account, populated: dict[str, Any]
) -> None:
    items = _list(client, "/api/v1/transcriptions?limit=100", user.headers)["items"]
    assert {item["id"] for item in items} == {populated["done"], populated["other"]}
    file = client.get(f"/api/v1/files/{populated['file_id']}", headers=user.headers).json()
    assert file["duration_seconds"] == pytest.approx(11.0, abs=0.5)
    for item in items:
        _assert_matches(TranscriptionOut, item)
        single = client.get(f"/api/v1/transcriptions/{item['id']}", headers=user.headers)
        assert single.json() == item
        assert item["duration_seconds"] == file["duration_seconds"]
        assert item["created_at"].endswith("Z") and len(item["created_at"]) == 24


def test_paging_through_transcriptions_sees_every_job_once(
    client: TestClient, user: Account, populated: dict[str, Any]
) -> None:
    seen: list[str] = []
    path = "/api/v1/transcriptions?limit=1&sort=title"
    while True:
        page = _list(client, path, user.headers)
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        path = f"/api/v1/transcriptions?limit=1&sort=title&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted([populated["done"], populated["other"]])
    statuses = {
        item["id"]: item["status"]
        for item in _list(client, "/api/v1/transcriptions", user.headers)["items"]
    }
    for status in ("completed", "canceled"):
        filtered = _list(client, f"/api/v1/transcriptions?status={status}&q=", user.headers)
        expected = sorted(job for job, its in statuses.items() if its == status)
        assert sorted(item["id"] for item in filtered["items"]) == expected
    searched = _list(client, "/api/v1/transcriptions?q=DON", user.headers)
    assert [item["id"] for item in searched["items"]] == [populated["done"]]


def test_other_list_routes_match_their_models(
    client: TestClient, user: Account, populated: dict[str, Any]
) -> None:
    files = _list(client, "/api/v1/files", user.headers)["items"]
    assert [item["id"] for item in files] == [populated["file_id"]]
    for item in files:
        _assert_matches(FileOut, item)
        assert client.get(f"/api/v1/files/{item['id']}", headers=user.headers).json() == item

    profiles = _list(client, "/api/v1/profiles", user.headers)["items"]
    assert [item["name"] for item in profiles] == ["fast"]
    for item in profiles:
        _assert_matches(ProfileOut, item)
        assert client.get(f"/api/v1/profiles/{item['id']}", headers=user.headers).json() == item

    keys = _list(client, "/api/v1/api-keys", user.headers)["items"]
    assert [item["name"] for item in keys] == ["listing"]
    for item in keys:
        _assert_matches(ApiKeyOut, item)

    executions = _list(
        client, f"/api/v1/transcriptions/{populated['done']}/executions", user.headers
    )["items"]
    assert [item["status"] for item in executions] == ["completed"]
    for item in executions:
        _assert_matches(ExecutionOut, item)


def test_list_routes_still_document_their_models(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/v1/transcriptions": "TranscriptionList",
        "/api/v1/files": "FileList",
        "/api/v1/profiles": "ProfileList",
        "/api/v1/api-keys": "ApiKeyList",
        "/api/v1/transcriptions/{transcription_id}/executions": "ExecutionList",
    }
    for path, model in expected.items():
        content = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
        assert content["schema"] == {"$ref": f"#/components/schemas/{model}"}, path


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 4, 25, 18, 0, 0),
        datetime(2026, 4, 25, 18, 0, 0, 999999),
        datetime(2026, 4, 25, 18, 0, 0, 1000),
        datetime(999, 1, 2, 3, 4, 5, 678),
        datetime(2026, 4, 25, 18, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 4, 25, 23, 30, 0, 500, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 4, 26, 0, 30, 0, tzinfo=timezone(timedelta(hours=2, minutes=30))),
    ],
)
def test_rfc3339_is_utc_with_truncated_milliseconds(moment: datetime) -> None:
    reference = as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert rfc3339(moment) == reference
    assert rfc3339_text(moment) == reference
    assert rfc3339_text(moment) == reference  # and again, from the cache
    assert reference.endswith("Z") and reference[-5] == "."
