"""Settings: defaults, partial updates, default-profile ownership, the upload cap."""

from __future__ import annotations

from typing import Any

from scriberr.clock import utcnow
from scriberr.ids import new_id
from scriberr.persistence.models import Profile

from .conftest import Account


def _profile(core: Any, user_id: str, name: str) -> str:
    profile_id = new_id("profile")
    now = utcnow()
    with core.database.write_session() as session:
        session.add(
            Profile(
                id=profile_id, user_id=user_id, name=name, description=None, options={},
                is_default=False, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return profile_id


def test_defaults(client: Any, core: Any, user: Account) -> None:
    body = client.get("/api/v1/settings", headers=user.headers).json()
    assert body["auto_transcription_enabled"] is False
    assert body["default_profile_id"] is None
    assert body["local_only"] is True
    assert body["auto_rename_enabled"] is False
    assert body["max_upload_size_mb"] == core.config.max_upload_mb  # never null
    assert body["user_max_upload_size_mb"] is None
    assert body["server_max_upload_size_mb"] == core.config.max_upload_mb
    assert body["effective_max_upload_size_mb"] == core.config.max_upload_mb


def test_partial_updates_keep_other_fields(client: Any, user: Account) -> None:
    first = client.patch(
        "/api/v1/settings", json={"auto_transcription_enabled": True}, headers=user.headers
    )
    assert first.status_code == 200 and first.json()["auto_transcription_enabled"] is True
    second = client.patch(
        "/api/v1/settings",
        json={"local_only": False, "max_upload_size_mb": 10},
        headers=user.headers,
    ).json()
    assert second["auto_transcription_enabled"] is True
    assert second["local_only"] is False
    assert second["max_upload_size_mb"] == 10 and second["effective_max_upload_size_mb"] == 10
    assert second["user_max_upload_size_mb"] == 10
    assert second["updated_at"].endswith("Z")
    cleared = client.patch(
        "/api/v1/settings", json={"max_upload_size_mb": None}, headers=user.headers
    ).json()
    assert cleared["user_max_upload_size_mb"] is None
    assert cleared["max_upload_size_mb"] == cleared["server_max_upload_size_mb"]
    assert client.get("/api/v1/settings", headers=user.headers).json() == cleared


def test_invalid_values(client: Any, user: Account) -> None:
    for body, field in (
        ({"auto_transcription_enabled": None}, "auto_transcription_enabled"),
        ({"local_only": "sometimes"}, "local_only"),
        ({"auto_rename_enabled": None}, "auto_rename_enabled"),
        ({"auto_rename_enabled": "sometimes"}, "auto_rename_enabled"),
        ({"max_upload_size_mb": 0}, "max_upload_size_mb"),
        ({"max_upload_size_mb": 10**9}, "max_upload_size_mb"),
        ({"theme": "dark"}, "theme"),
    ):
        response = client.patch("/api/v1/settings", json=body, headers=user.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field, body


def test_default_profile_must_be_the_users_own(
    client: Any, core: Any, user: Account, other_user: Account
) -> None:
    mine = _profile(core, user.user_id, "mine")
    theirs = _profile(core, other_user.user_id, "theirs")
    foreign = client.patch(
        "/api/v1/settings", json={"default_profile_id": theirs}, headers=user.headers
    )
    assert foreign.status_code == 422
    assert foreign.json()["error"]["field"] == "default_profile_id"
    missing = client.patch(
        "/api/v1/settings", json={"default_profile_id": "profile_nope"}, headers=user.headers
    )
    assert missing.status_code == 422
    ok = client.patch("/api/v1/settings", json={"default_profile_id": mine}, headers=user.headers)
    assert ok.status_code == 200 and ok.json()["default_profile_id"] == mine
    with core.database.session() as session:
        assert session.get(Profile, mine).is_default is True
    cleared = client.patch(
        "/api/v1/settings", json={"default_profile_id": None}, headers=user.headers
    )
    assert cleared.json()["default_profile_id"] is None
    with core.database.session() as session:
        assert session.get(Profile, mine).is_default is False


def test_settings_are_per_user(client: Any, user: Account, other_user: Account) -> None:
    client.patch("/api/v1/settings", json={"local_only": False}, headers=user.headers)
    assert client.get("/api/v1/settings", headers=other_user.headers).json()["local_only"] is True


def test_auto_rename_is_kept_but_reads_false_until_titles_can_be_generated(
    client: Any, core: Any, user: Account
) -> None:
    response = client.patch(
        "/api/v1/settings", json={"auto_rename_enabled": True}, headers=user.headers
    )
    assert response.status_code == 200
    assert response.json()["auto_rename_enabled"] is False
    assert (
        client.get("/api/v1/settings", headers=user.headers).json()["auto_rename_enabled"] is False
    )
    # The user's choice is stored, so it takes effect once titles can be generated.
    assert core.settings.get(user.user_id).auto_rename_requested is True
    client.patch("/api/v1/settings", json={"auto_rename_enabled": False}, headers=user.headers)
    assert core.settings.get(user.user_id).auto_rename_requested is False
