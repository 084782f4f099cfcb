"""The API platform: error envelope, request IDs, 401 on every protected route, OpenAPI, health."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from scriberr.api.app import create_app

from .conftest import Account

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/ready"),
    ("GET", "/api/v1/auth/registration-status"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("GET", "/docs"),  # Swagger UI's page (the web app's files are not API routes)
}


def _envelope(response: Any, status: int, code: str, *, openai: bool = False) -> dict[str, Any]:
    """Scriberr's error envelope (OpenAI's error shape on the `/v1` routes)."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    keys = {"message", "type", "param"} if openai else {"message", "field"}
    assert set(error) == {"code", "request_id", *keys}
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_123", path)


def api_routes(app: Any) -> list[APIRoute]:
    """Every API route of the app, however routers are nested."""
    return [
        context.route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
    ]


def test_every_protected_route_requires_credentials(client: Any, app: Any) -> None:
    checked = 0
    for route in api_routes(app):
        for method in route.methods:
            if (method, route.path) in PUBLIC:
                continue
            response = client.request(method, _concrete(route.path))
            assert response.status_code == 401, (method, route.path, response.text)
            if method != "HEAD":  # a HEAD answer has no body
                _envelope(response, 401, "UNAUTHORIZED", openai=route.path.startswith("/v1/"))
            checked += 1
    assert checked >= 15


def test_public_routes_answer_without_credentials(client: Any) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/ready").json() == {"status": "ready", "database": "ok"}
    assert client.get("/api/v1/auth/registration-status").json() == {"registration_enabled": True}


def test_invalid_credentials_are_401(client: Any) -> None:
    for headers in (
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer sk_not_a_real_key"},
        {"X-API-Key": "sk_nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        _envelope(client.get("/api/v1/files", headers=headers), 401, "UNAUTHORIZED")


def test_request_id_is_echoed_or_generated(client: Any) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/health")
    assert generated.headers["x-request-id"].startswith("req_")
    hostile = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"].startswith("req_")
    # (Unknown paths outside the API serve the web app; tests/api/test_webapp.py covers that.)
    error = client.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-7"})
    assert _envelope(error, 404, "NOT_FOUND")["request_id"] == "trace-7"


def test_unknown_route_and_wrong_method(client: Any) -> None:
    _envelope(client.get("/api/v1/does-not-exist"), 404, "NOT_FOUND")
    _envelope(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_400(client: Any) -> None:
    response = client.post(
        "/api/v1/auth/login",
        content=b'{"username": "a", ',
        headers={"Content-Type": "application/json"},
    )
    _envelope(response, 400, "INVALID_REQUEST")


def test_wrong_field_types_name_the_field(client: Any, user: Account) -> None:
    response = client.post("/api/v1/auth/login", json={"username": ["x"], "password": "p"})
    assert _envelope(response, 422, "UNPROCESSABLE")["field"] == "username"
    response = client.patch(
        "/api/v1/settings", json={"max_upload_size_mb": "lots"}, headers=user.headers
    )
    assert _envelope(response, 422, "UNPROCESSABLE")["field"] == "max_upload_size_mb"
    response = client.post("/api/v1/auth/login", json=["not", "an", "object"])
    _envelope(response, 400, "INVALID_REQUEST")
    response = client.get("/api/v1/files?limit=many", headers=user.headers)
    assert _envelope(response, 422, "UNPROCESSABLE")["field"] == "limit"


def test_unhandled_errors_are_sanitised_500s(core: Any) -> None:
    from fastapi.testclient import TestClient

    app = create_app(core)
    secret_path = str(core.config.data_dir / "secret" / "thing.db")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"cannot open {secret_path}")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom", headers={"X-Request-ID": "boom-1"})
    error = _envelope(response, 500, "INTERNAL")
    assert error["message"] == "Internal server error."
    assert secret_path not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] == "boom-1"


@pytest.mark.slow
def test_openapi_schema_is_served_and_documents_the_routes(client: Any) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/files",
        "/api/v1/files/{file_id}/audio",
        "/api/v1/files:import-youtube",
        "/api/v1/auth/stream-token",
        "/api/v1/api-keys/{key_id}",
        "/api/v1/settings",
    ):
        assert path in paths, path
    upload = paths["/api/v1/files"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    envelope = schema["components"]["schemas"]["HTTPValidationError"]
    assert "error" in envelope["properties"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/ready"])
def test_ready_reports_503_when_the_database_is_gone(core: Any, path: str) -> None:
    from fastapi.testclient import TestClient

    app = create_app(core)

    class Broken:
        def ping(self) -> bool:
            return False

    app.state.core = type("C", (), {"database": Broken()})()
    with TestClient(app) as test_client:
        response = test_client.get(path)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
