"""Accounts: registration, login throttling, refresh rotation and reuse, sessions, API keys and
stream tokens."""

from __future__ import annotations

from typing import Any

from .conftest import PASSWORD, SAMPLE, Account, create_api_key, login, register, upload


def test_first_user_registers_then_registration_closes(client: Any) -> None:
    account = register(client)
    assert account.user_id.startswith("user_")
    assert client.get("/api/v1/auth/registration-status").json() == {"registration_enabled": False}
    again = client.post(
        "/api/v1/auth/register",
        json={"username": "bob", "password": PASSWORD, "confirm_password": PASSWORD},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


def test_register_validates_input(client: Any) -> None:
    mismatch = client.post(
        "/api/v1/auth/register",
        json={"username": "alice", "password": PASSWORD, "confirm_password": "different!!"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["field"] == "confirm_password"
    short = client.post(
        "/api/v1/auth/register",
        json={"username": "alice", "password": "short", "confirm_password": "short"},
    )
    assert short.json()["error"]["field"] == "password"
    bad_name = client.post(
        "/api/v1/auth/register",
        json={"username": "../etc", "password": PASSWORD, "confirm_password": PASSWORD},
    )
    assert bad_name.json()["error"]["field"] == "username"
    assert client.get("/api/v1/auth/registration-status").json()["registration_enabled"]


def test_login_me_and_wrong_password(client: Any, user: Account) -> None:
    session = login(client, "alice")
    me = client.get("/api/v1/auth/me", headers=session.headers).json()
    assert me["username"] == "alice" and me["id"] == user.user_id
    assert me["created_at"].endswith("Z")
    wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401
    unknown = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"})
    assert unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_repeated_failed_logins_are_throttled(client: Any, user: Account) -> None:
    for _ in range(5):
        response = client.post("/api/v1/auth/login", json={"username": "alice", "password": "x"})
        assert response.status_code == 401
    limited = client.post("/api/v1/auth/login", json={"username": "alice", "password": "x"})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) > 0
    # Even the right password waits out the lockout for this username and client...
    blocked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429
    # ...while existing sessions keep working.
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_family(client: Any, user: Account) -> None:
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != user.refresh_token
    assert (
        client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
        ).status_code
        == 200
    )
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "UNAUTHORIZED"
    # The reuse revoked the whole family, including the token that replaced it.
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401
    garbage = client.post("/api/v1/auth/refresh", json={"refresh_token": "rt_garbage"})
    assert garbage.status_code == 401


def test_refresh_tokens_are_stored_hashed(client: Any, core: Any, user: Account) -> None:
    from sqlalchemy import select

    from scriberr.persistence.models import ApiKey, RefreshToken

    key = create_api_key(client, user)["key"]
    with core.database.session() as session:
        hashes = list(session.scalars(select(RefreshToken.token_hash)))
        key_hashes = list(session.scalars(select(ApiKey.key_hash)))
    assert hashes and user.refresh_token not in hashes
    assert key_hashes and key not in key_hashes


def test_logout_revokes_the_session(client: Any, user: Account) -> None:
    response = client.post(
        "/api/v1/auth/logout", json={"refresh_token": user.refresh_token}, headers=user.headers
    )
    assert response.status_code == 200 and response.json() == {"ok": True}
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refreshed.status_code == 401
    # The session's access token ended at once too.
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 401


def test_logout_with_only_the_refresh_token_revokes_its_family(client: Any, user: Account) -> None:
    """Browsers log out with the refresh token alone (no Bearer): the token's whole rotation
    family ends, other sessions stay."""
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200
    newest = rotated.json()["refresh_token"]
    other = login(client, "alice")
    response = client.post("/api/v1/auth/logout", json={"refresh_token": newest})
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": newest}).status_code == 401
    still = client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert still.status_code == 200
    # Logging out again, or with a token nobody issued, is fine and reveals nothing.
    again = client.post("/api/v1/auth/logout", json={"refresh_token": newest})
    assert again.status_code == 200 and again.json() == {"ok": True}
    unknown = client.post("/api/v1/auth/logout", json={"refresh_token": "rt_not-a-token"})
    assert unknown.status_code == 200


def test_logout_without_a_token_or_credentials_is_unauthorized(client: Any, user: Account) -> None:
    client.cookies.clear()  # no refresh cookie either (registering set one)
    assert client.post("/api/v1/auth/logout", json={}).status_code == 401
    assert client.post("/api/v1/auth/logout").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    response = client.post(
        "/api/v1/auth/logout", json={"refresh_token": user.refresh_token}, headers=bad
    )
    assert response.status_code == 401
    # Without a refresh token an authenticated logout ends the caller's own session.
    everything = client.post("/api/v1/auth/logout", json={}, headers=user.headers)
    assert everything.status_code == 200
    stale = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert stale.status_code == 401


def test_change_password_confirmation_must_match(client: Any, user: Account) -> None:
    mismatch = client.post(
        "/api/v1/auth/change-password",
        json={
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a different passphrase",
        },
        headers=user.headers,
    )
    assert mismatch.status_code == 400  # as register's confirm_password mismatch
    assert mismatch.json()["error"]["field"] == "confirm_password"
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200  # unchanged
    login(client, "alice")


def test_change_password_ends_other_sessions(client: Any, user: Account) -> None:
    other = login(client, "alice")
    response = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    fresh = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200
    assert client.get("/api/v1/auth/me", headers=other.headers).status_code == 401
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 401
    stale = client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert stale.status_code == 401
    old_login = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert old_login.status_code == 401
    login(client, "alice", "a brand new passphrase")


def test_change_password_needs_the_current_one(client: Any, user: Account) -> None:
    response = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": "wrong password", "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "current_password"


def test_change_username(client: Any, user: Account, other_user: Account) -> None:
    taken = client.post(
        "/api/v1/auth/change-username",
        json={"new_username": "Mallory", "password": PASSWORD},
        headers=user.headers,
    )
    assert taken.status_code == 409
    renamed = client.post(
        "/api/v1/auth/change-username",
        json={"new_username": "alicia", "password": PASSWORD},
        headers=user.headers,
    )
    assert renamed.status_code == 200
    assert renamed.json()["username"] == "alicia"
    assert client.get("/api/v1/auth/me", headers=user.headers).json()["username"] == "alicia"
    login(client, "alicia")


def test_api_keys_lifecycle(client: Any, user: Account) -> None:
    created = create_api_key(client, user, "laptop")
    raw = created["key"]
    assert raw.startswith("sk_")
    assert created["preview"] == f"sk_...{raw[-4:]}"
    assert created["id"].startswith("key_")
    assert created["last_used_at"] is None
    listed = client.get("/api/v1/api-keys", headers=user.headers).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and raw not in str(listed)

    bearer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"})
    assert bearer.status_code == 200 and bearer.json()["id"] == user.user_id
    header = client.get("/api/v1/files", headers={"X-API-Key": raw})
    assert header.status_code == 200
    used = client.get("/api/v1/api-keys", headers=user.headers).json()["items"][0]
    assert used["last_used_at"] is not None

    deleted = client.delete(f"/api/v1/api-keys/{created['id']}", headers=user.headers)
    assert deleted.status_code == 204
    revoked = client.get("/api/v1/files", headers={"Authorization": f"Bearer {raw}"})
    assert revoked.status_code == 401
    assert client.get("/api/v1/files", headers={"X-API-Key": raw}).status_code == 401
    assert client.get("/api/v1/api-keys", headers=user.headers).json()["items"] == []
    again = client.delete(f"/api/v1/api-keys/{created['id']}", headers=user.headers)
    assert again.status_code == 404


def test_api_keys_are_private_to_their_owner(
    client: Any, user: Account, other_user: Account
) -> None:
    created = create_api_key(client, user)
    assert client.get("/api/v1/api-keys", headers=other_user.headers).json()["items"] == []
    stolen = client.delete(f"/api/v1/api-keys/{created['id']}", headers=other_user.headers)
    assert stolen.status_code == 404
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]}).status_code == 200


def test_stream_token_reads_audio_but_nothing_else(client: Any, user: Account) -> None:
    file_id = upload(client, user.headers, SAMPLE).json()["id"]
    minted = client.post("/api/v1/auth/stream-token", headers=user.headers)
    assert minted.status_code == 201
    token = minted.json()["token"]
    assert minted.json()["expires_at"].endswith("Z")
    audio = client.get(f"/api/v1/files/{file_id}/audio?stream_token={token}")
    assert audio.status_code == 200
    assert audio.content == SAMPLE.read_bytes()
    # Not a general credential: neither as a query parameter elsewhere nor as a Bearer token.
    assert client.get(f"/api/v1/files?stream_token={token}").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/files", headers=bearer).status_code == 401
    # And an access token is not accepted as a stream token.
    sneaky = client.get(f"/api/v1/files/{file_id}/audio?stream_token={user.access_token}")
    assert sneaky.status_code == 401


def test_the_listings_check_the_credential_on_every_request(
    client: Any, user: Account, other_user: Account
) -> None:
    """The listings authenticate inside their own query's thread-pool call: no
    credential is 401 before anything runs, and a revoked key or a disabled account is refused
    on the very next request (nothing is cached)."""
    listings = (
        "/api/v1/transcriptions?limit=100",
        "/api/v1/transcriptions/tr_x/executions",
        "/api/v1/files",
        "/api/v1/profiles",
        "/api/v1/api-keys",
    )
    for path in listings:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"X-API-Key": "sk_not_a_key"}).status_code == 401
        bad = client.get(path, headers={"Authorization": "Bearer not.a.token"})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "UNAUTHORIZED"

    key = create_api_key(client, other_user)
    by_key = {"Authorization": f"Bearer {key['key']}"}
    for path in (listings[0], *listings[2:]):
        assert client.get(path, headers=by_key).status_code == 200
        assert client.get(path, headers=other_user.headers).status_code == 200
    assert (
        client.delete(f"/api/v1/api-keys/{key['id']}", headers=other_user.headers).status_code
        == 204
    )
    for path in listings:
        assert client.get(path, headers=by_key).status_code == 401

    disable = client.patch(
        f"/api/v1/admin/users/{other_user.user_id}", json={"disabled": True}, headers=user.headers
    )
    assert disable.status_code == 200, disable.text
    for path in (listings[0], *listings[2:]):
        assert client.get(path, headers=other_user.headers).status_code == 401
        assert client.get(path, headers=user.headers).status_code == 200
