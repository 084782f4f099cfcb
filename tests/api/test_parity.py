"""Upstream Scriberr v1 request bodies get 2xx, with the upstream response fields (additive)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, Account, login
from .jobs_support import make_env


def test_api_keys_with_description_and_upstream_fields(client: Any, user: Account) -> None:
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "ci", "description": "used by the nightly job"},
        headers=user.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["description"] == "used by the nightly job"
    assert body["key_preview"] == f"sk_...{body['key'][-4:]}" == body["preview"]
    assert body["is_active"] is True and body["updated_at"].endswith("Z")
    listed = client.get("/api/v1/api-keys", headers=user.headers).json()["items"]
    assert set(listed[0]) >= {
        "id", "name", "description", "key_preview", "is_active", "last_used_at", "created_at",
        "updated_at",
    }  # fmt: skip
    assert "key" not in listed[0]


def test_change_password_confirm_and_change_username_password(client: Any, user: Account) -> None:
    mismatch = client.post(
        "/api/v1/auth/change-password",
        json={
            "current_password": PASSWORD,
            "new_password": "the new passphrase",
            "confirm_password": "something else",
        },
        headers=user.headers,
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"]["field"] == "confirm_password"
    changed = client.post(
        "/api/v1/auth/change-password",
        json={
            "current_password": PASSWORD,
            "new_password": "the new passphrase",
            "confirm_password": "the new passphrase",
        },
        headers=user.headers,
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    no_password = client.post(
        "/api/v1/auth/change-username", json={"new_username": "alicia"}, headers=fresh
    )
    assert no_password.status_code == 422 and no_password.json()["error"]["field"] == "password"
    wrong = client.post(
        "/api/v1/auth/change-username",
        json={"new_username": "alicia", "password": PASSWORD},
        headers=fresh,
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "password"
    renamed = client.post(
        "/api/v1/auth/change-username",
        json={"new_username": "alicia", "password": "the new passphrase"},
        headers=fresh,
    )
    assert renamed.status_code == 200 and renamed.json()["username"] == "alicia"
    session = login(client, "alicia", "the new passphrase")
    out = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": session.refresh_token},
        headers=session.headers,
    )
    assert out.status_code == 200 and out.json() == {"ok": True}


@pytest.mark.slow
def test_change_password_checks_are_throttled(client: Any, user: Account) -> None:
    statuses = [
        client.post(
            "/api/v1/auth/change-password",
            json={"current_password": f"guess number {n}", "new_password": "whatever it is"},
            headers=user.headers,
        ).status_code
        for n in range(6)
    ]
    assert statuses == [400] * 5 + [429]


def test_transcription_list_items_carry_duration_seconds(tmp_path: Path) -> None:
    with make_env(tmp_path, start=False) as env:
        env.create(env.fake_file())
        items = env.client.get("/api/v1/transcriptions", headers=env.headers).json()["items"]
        assert items[0]["duration_seconds"] == 6.0
