"""The server side of the web app: the built app at `/` with client-route fallback, the API's
paths keeping their JSON errors, Swagger UI from this origin, the one-line hint without a
build, and the refresh token as an httpOnly SameSite=Strict cookie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scriberr.api.app import create_app
from scriberr.api.webapp import DOCS_NOT_BUILT, NOT_BUILT, is_reserved, resolve_static
from tests.api.conftest import PASSWORD, Account, register

INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-1.js"></script></head></html>'


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "docs-assets").mkdir()
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-1.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg/>")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"):
        (dist / "docs-assets" / name).write_text("/* swagger */")
    (tmp_path / "secret.txt").write_text("outside")
    return dist


@pytest.fixture
def web(core: Any, web_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(core, web_dir=web_dir), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def bare(core: Any, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(core, web_dir=tmp_path / "not-built"), raise_server_exceptions=False
    ) as client:
        yield client


def test_root_and_client_routes_serve_the_app(web: TestClient) -> None:
    for path in ("/", "/library", "/transcriptions/tr_123", "/settings?tab=keys"):
        response = web.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
    assert web.head("/settings").status_code == 200


def test_built_files_are_served_with_caching(web: TestClient) -> None:
    asset = web.get("/assets/app-1.js")
    assert asset.status_code == 200
    assert asset.text == "console.log(1)"
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    assert web.get("/favicon.svg").headers["content-type"].startswith("image/svg+xml")
    # A stale hashed asset is a real 404, not the page.
    missing = web.get("/assets/app-0.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


def test_api_paths_keep_their_meaning(web: TestClient) -> None:
    assert web.get("/health").json() == {"status": "ok"}
    assert web.get("/openapi.json").json()["info"]["title"] == "Scriberr"
    for path in ("/api/v1/nope", "/api", "/v1/nope", "/health/x", "/openapi.json/x"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert web.get("/api/v1/auth/me").status_code == 401
    # Other methods on unknown paths stay JSON 404s; a known path with a wrong method stays 405.
    posted = web.post("/library")
    assert posted.status_code == 404 and posted.json()["error"]["code"] == "NOT_FOUND"
    assert web.delete("/health").status_code == 405


def test_paths_cannot_escape_the_build(web: TestClient, web_dir: Path) -> None:
    assert resolve_static(web_dir, "/../secret.txt") is None
    assert resolve_static(web_dir, "/assets/../../secret.txt") is None
    assert (
        resolve_static(web_dir, "/assets/app-1.js") == (web_dir / "assets" / "app-1.js").resolve()
    )
    response = web.get("/assets/..%2F..%2Fsecret.txt")
    assert "outside" not in response.text


def test_reserved_prefixes() -> None:
    assert is_reserved("/api/v1/x") and is_reserved("/v1") and is_reserved("/docs")
    assert is_reserved("/health") and is_reserved("/openapi.json")
    assert not is_reserved("/docs-assets/swagger-ui.css")
    assert not is_reserved("/") and not is_reserved("/apis") and not is_reserved("/library")


def test_docs_are_served_from_this_origin(web: TestClient) -> None:
    page = web.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "/docs-assets/swagger-init.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text and "//cdn" not in page.text
    assert "<script>" not in page.text  # no inline script: works under a strict CSP
    assert web.get("/docs-assets/swagger-ui.css").status_code == 200


def test_without_a_build_root_says_how_to_build(bare: TestClient) -> None:
    for path in ("/", "/library"):
        response = bare.get(path)
        assert response.status_code == 200
        assert response.text == NOT_BUILT
        assert response.text.count("\n") == 1 and "scripts/install" in response.text
    docs = bare.get("/docs")
    assert docs.text == DOCS_NOT_BUILT
    assert bare.get("/health").json() == {"status": "ok"}
    assert bare.get("/api/v1/nope").json()["error"]["code"] == "NOT_FOUND"


def _cookie_header(response: Any, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header)
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def test_login_sets_an_httponly_strict_refresh_cookie(client: Any, user: Account) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    cookie = _cookie_header(response, "scriberr_refresh")
    assert f"scriberr_refresh={response.json()['refresh_token']}" in cookie
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered
    assert "path=/api/v1/auth" in lowered and "max-age=" in lowered
    hint = _cookie_header(response, "scriberr_session")
    assert "scriberr_session=1" in hint and "httponly" not in hint.lower()


def test_refresh_accepts_the_cookie_and_rotates_it(core: Any, tmp_path: Path) -> None:
    with TestClient(create_app(core, web_dir=tmp_path / "none")) as browser:
        first = register(browser)
        assert browser.cookies.get("scriberr_refresh") == first.refresh_token
        refreshed = browser.post("/api/v1/auth/refresh")  # no body: the cookie
        assert refreshed.status_code == 200
        new_token = refreshed.json()["refresh_token"]
        assert new_token != first.refresh_token
        assert browser.cookies.get("scriberr_refresh") == new_token
        access = refreshed.json()["access_token"]
        me = browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["username"] == "alice"
        # An empty JSON body also falls back to the cookie.
        assert browser.post("/api/v1/auth/refresh", json={}).status_code == 200


def test_a_rejected_cookie_is_cleared(core: Any, tmp_path: Path) -> None:
    with TestClient(create_app(core, web_dir=tmp_path / "none")) as browser:
        register(browser)
        browser.cookies.clear()
        response = browser.post(
            "/api/v1/auth/refresh", headers={"Cookie": "scriberr_refresh=rt_garbage"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        cleared = _cookie_header(response, "scriberr_refresh")
        assert cleared.startswith('scriberr_refresh="";') or "max-age=0" in cleared.lower()


def test_refresh_without_body_or_cookie_is_401(core: Any, tmp_path: Path) -> None:
    with TestClient(create_app(core, web_dir=tmp_path / "none")) as anonymous:
        response = anonymous.post("/api/v1/auth/refresh")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert response.headers["www-authenticate"] == "Bearer"


def test_logout_ends_the_cookies_session_and_clears_it(core: Any, tmp_path: Path) -> None:
    with TestClient(create_app(core, web_dir=tmp_path / "none")) as browser:
        account = register(browser)
        with TestClient(create_app(core, web_dir=tmp_path / "none")) as other_device:
            other = other_device.post(
                "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
            ).json()
        token = browser.cookies.get("scriberr_refresh")
        out = browser.post("/api/v1/auth/logout", headers=account.headers)
        assert out.status_code == 200 and out.json() == {"ok": True}
        assert browser.cookies.get("scriberr_refresh") is None
        assert browser.cookies.get("scriberr_session") is None
        # The cookie's session is gone; the other device's session is not.
        again = browser.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert again.status_code == 401
        kept = browser.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert kept.status_code == 200
