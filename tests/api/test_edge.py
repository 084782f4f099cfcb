"""The HTTP edge in-process: body caps, form-field budget, CORS, relative slash redirects and
which client address the login throttle sees."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scriberr.api.app import create_app

from .conftest import PASSWORD, SAMPLE, Account


def test_json_bodies_over_1_mib_are_413_before_parsing(client: Any, user: Account) -> None:
    big = b'{"username": "' + b"a" * (1024 * 1024) + b'", "password": "x"}'
    response = client.post(
        "/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # Not JSON at all, and multipart to a route that does not stream uploads: the same cap.
    for content_type in ("text/plain", "multipart/form-data; boundary=x"):
        other = client.patch(
            "/api/v1/settings", content=big, headers={**user.headers, "Content-Type": content_type}
        )
        assert other.status_code == 413, content_type
    small = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert small.status_code == 200


def _multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = "edgeboundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body += SAMPLE.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_every_route_that_declares_an_upload_streams_bodies_past_the_json_limit(
    client: Any, user: Account
) -> None:
    # The body limit finds the upload routes among the routers as declared; every route the
    # served schema shows with a multipart body must be one of them (else its uploads over
    # 1 MiB would be refused as oversized JSON).
    paths = client.get("/openapi.json").json()["paths"]
    uploads = [
        path
        for path, operations in paths.items()
        if "multipart/form-data"
        in operations.get("post", {}).get("requestBody", {}).get("content", {})
    ]
    assert len(uploads) >= 4, uploads
    body, content_type = _multipart([])
    body = body.replace(b"\r\n--edgeboundary--", b"\0" * (600 * 1024) + b"\r\n--edgeboundary--")
    assert len(body) > 1024 * 1024
    for path in uploads:
        response = client.post(
            path, content=body, headers={**user.headers, "Content-Type": content_type}
        )
        assert response.status_code != 413, (path, response.text)


def test_every_form_part_counts_against_the_field_budget(client: Any, user: Account) -> None:
    body, content_type = _multipart([("title", "t" * 10_000)] * 7)  # 70 KB, one repeated name
    response = client.post(
        "/api/v1/files", content=body, headers={**user.headers, "Content-Type": content_type}
    )
    assert response.status_code == 413, response.text
    body, content_type = _multipart([("title", "t" * 400), ("title", "second")])
    accepted = client.post(
        "/api/v1/files", content=body, headers={**user.headers, "Content-Type": content_type}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["title"] == "t" * 400


def test_cors_is_off_by_default_and_allows_only_listed_origins(make_core: Any, client: Any) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    closed = client.options("/api/v1/auth/login", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    core = make_core(start=False, SCRIBERR_CORS_ORIGINS="https://app.example")
    with TestClient(create_app(core)) as cors:
        allowed = cors.options(
            "/api/v1/auth/login",
            headers={**preflight, "Access-Control-Request-Headers": "authorization,content-type"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = cors.options(
            "/api/v1/auth/login", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_trailing_slash_redirects_are_relative(client: Any, user: Account) -> None:
    response = client.get(
        "/api/v1/files/?limit=5",
        headers={**user.headers, "Host": "attacker.example"},
        follow_redirects=False,
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/api/v1/files?limit=5"
    sneaky = client.get("//attacker.example/", follow_redirects=False)
    assert "location" not in sneaky.headers  # never a redirect off the server


@pytest.mark.slow
def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(client: Any, user: Account) -> None:
    """Without SCRIBERR_FORWARDED_ALLOW_IPS, a new X-Forwarded-For per attempt does not make a
    new client: 20 failures for 20 different unknown names from "20 addresses" lock the
    address."""
    statuses = [
        client.post(
            "/api/v1/auth/login",
            json={"username": f"nobody{n}", "password": "x"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(21)
    ]
    assert statuses == [401] * 20 + [429]
