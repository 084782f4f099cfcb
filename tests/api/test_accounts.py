"""Accounts for a team: the first user is an admin, admins manage accounts, members see only
their own data, disabling/resetting ends sessions at once, and jobs are scheduled fairly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import PASSWORD, Account, login, upload
from .jobs_support import make_env


def _create_user(client: Any, admin: Account, name: str, role: str = "member") -> dict[str, Any]:
    response = client.post(
        "/api/v1/admin/users",
        json={"username": name, "password": PASSWORD, "role": role},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_first_user_is_admin_and_manages_accounts(client: Any, user: Account) -> None:
    me = client.get("/api/v1/auth/me", headers=user.headers).json()
    assert me["role"] == "admin" and me["is_admin"] is True
    bob = _create_user(client, user, "bob")
    assert bob["role"] == "member" and bob["disabled"] is False
    duplicate = client.post(
        "/api/v1/admin/users",
        json={"username": "BOB", "password": PASSWORD},
        headers=user.headers,
    )
    assert duplicate.status_code == 409
    listed = client.get("/api/v1/admin/users", headers=user.headers).json()["items"]
    assert [u["username"] for u in listed] == ["alice", "bob"]
    member = login(client, "bob")
    assert client.get("/api/v1/auth/me", headers=member.headers).json()["role"] == "member"
    # Members cannot administer.
    for method, path in (
        ("GET", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users"),
        ("PATCH", f"/api/v1/admin/users/{user.user_id}"),
        ("DELETE", f"/api/v1/admin/users/{user.user_id}"),
    ):
        denied = client.request(method, path, headers=member.headers, json={})
        assert denied.status_code == 403, (method, path, denied.text)
        assert denied.json()["error"]["code"] == "FORBIDDEN"
    # Promote, then demote; the last admin cannot be demoted, disabled or deleted.
    promoted = client.patch(
        f"/api/v1/admin/users/{bob['id']}", json={"role": "admin"}, headers=user.headers
    )
    assert promoted.json()["role"] == "admin"
    client.patch(f"/api/v1/admin/users/{bob['id']}", json={"role": "member"}, headers=user.headers)
    for body in ({"role": "member"}, {"disabled": True}):
        last = client.patch(f"/api/v1/admin/users/{user.user_id}", json=body, headers=user.headers)
        assert last.status_code == 409, body
    assert (
        client.delete(f"/api/v1/admin/users/{user.user_id}", headers=user.headers).status_code
        == 409
    )
    # Registration stays closed.
    closed = client.post(
        "/api/v1/auth/register",
        json={"username": "eve", "password": PASSWORD, "confirm_password": PASSWORD},
    )
    assert closed.status_code == 409


def test_members_see_only_their_own_data(client: Any, core: Any, user: Account) -> None:
    file_id = upload(client, user.headers).json()["id"]
    _create_user(client, user, "bob")
    bob = login(client, "bob")
    assert client.get("/api/v1/files", headers=bob.headers).json()["items"] == []
    assert client.get(f"/api/v1/files/{file_id}", headers=bob.headers).status_code == 404
    assert client.get(f"/api/v1/files/{file_id}/audio", headers=bob.headers).status_code == 404
    assert client.delete(f"/api/v1/files/{file_id}", headers=bob.headers).status_code == 404
    created = client.post("/api/v1/transcriptions", json={"file_id": file_id}, headers=bob.headers)
    assert created.status_code in (404, 422)
    assert client.get("/api/v1/transcriptions", headers=bob.headers).json()["items"] == []
    # Queue stats: a member sees their own, an admin everyone's.
    job = client.post("/api/v1/transcriptions", json={"file_id": file_id}, headers=user.headers)
    assert job.status_code == 202
    mine = client.get("/api/v1/admin/queue", headers=bob.headers).json()
    assert sum(mine[k] for k in ("queued", "processing", "completed", "failed")) == 0
    everyone = client.get("/api/v1/admin/queue", headers=user.headers).json()
    assert sum(everyone[k] for k in ("queued", "processing", "completed", "failed")) == 1


def test_disable_and_reset_end_sessions_at_once(client: Any, user: Account) -> None:
    bob_view = _create_user(client, user, "bob")
    bob = login(client, "bob")
    key = client.post("/api/v1/api-keys", json={"name": "k"}, headers=bob.headers).json()["key"]
    stream = client.post("/api/v1/auth/stream-token", headers=bob.headers).json()["token"]
    file_id = upload(client, bob.headers).json()["id"]
    audio = f"/api/v1/files/{file_id}/audio"
    assert client.get(audio, params={"stream_token": stream}).status_code == 200
    disabled = client.patch(
        f"/api/v1/admin/users/{bob_view['id']}", json={"disabled": True}, headers=user.headers
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert client.get("/api/v1/auth/me", headers=bob.headers).status_code == 401
    assert client.get("/api/v1/files", headers={"X-API-Key": key}).status_code == 401
    assert client.get(audio, params={"stream_token": stream}).status_code == 401
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": bob.refresh_token})
    assert refresh.status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert blocked.status_code == 403
    # Enable again with a reset password: only the new password works.
    client.patch(
        f"/api/v1/admin/users/{bob_view['id']}",
        json={"disabled": False, "password": "a fresh reset password"},
        headers=user.headers,
    )
    old = client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert old.status_code == 401
    again = login(client, "bob", "a fresh reset password")
    assert client.get("/api/v1/auth/me", headers=again.headers).status_code == 200
    # Deleting the account removes its files and bytes.
    assert (
        client.delete(f"/api/v1/admin/users/{bob_view['id']}", headers=user.headers).status_code
        == 204
    )
    assert client.get("/api/v1/auth/me", headers=again.headers).status_code == 401


def test_logout_logout_all_and_key_revocation_take_effect_at_once(
    client: Any, user: Account
) -> None:
    other = login(client, "alice")
    stream = client.post("/api/v1/auth/stream-token", headers=other.headers).json()["token"]
    events = "/api/v1/events"
    # Logging one session out (with its refresh token, no access token) ends its tokens only.
    out = client.post("/api/v1/auth/logout", json={"refresh_token": other.refresh_token})
    assert out.status_code == 200 and out.json() == {"ok": True}
    assert client.get("/api/v1/auth/me", headers=other.headers).status_code == 401
    assert client.get(events, params={"stream_token": stream}).status_code == 401
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200
    # An API key's stream token dies with the key.
    key = client.post("/api/v1/api-keys", json={"name": "k"}, headers=user.headers).json()
    key_stream = client.post("/api/v1/auth/stream-token", headers={"X-API-Key": key["key"]}).json()[
        "token"
    ]
    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=user.headers).status_code == 204
    assert client.get("/api/v1/files", headers={"X-API-Key": key["key"]}).status_code == 401
    file_id = upload(client, user.headers).json()["id"]
    audio = f"/api/v1/files/{file_id}/audio"
    assert client.get(audio, params={"stream_token": key_stream}).status_code == 401
    # Logout-all ends every session, including the caller's.
    third = login(client, "alice")
    assert client.post("/api/v1/auth/logout-all", headers=user.headers).json() == {"ok": True}
    for account in (user, third):
        assert client.get("/api/v1/auth/me", headers=account.headers).status_code == 401
    stale = client.post("/api/v1/auth/refresh", json={"refresh_token": third.refresh_token})
    assert stale.status_code == 401


def test_jobs_are_scheduled_round_robin_across_users(tmp_path: Path) -> None:
    """User A queues 20 jobs, then user B queues 1; with one worker B's job finishes before
    A's fourth."""
    with make_env(tmp_path, start=False) as env:
        a_file = env.fake_file({"delay_s": 0.05, "steps": 1})
        a_jobs = [env.create(a_file)["id"] for _ in range(20)]
        b_user, b_headers = env.second_user()
        b_file = env.fake_file({"delay_s": 0.05, "steps": 1}, user_id=b_user)
        b_job = env.client.post(
            "/api/v1/transcriptions", json={"file_id": b_file}, headers=b_headers
        ).json()["id"]
        env.core.start()
        for job_id in a_jobs:
            env.wait(job_id)
        b_done = env.client.get(f"/api/v1/transcriptions/{b_job}", headers=b_headers).json()
        assert b_done["status"] == "completed"
        a_done = sorted(env.get(job_id)["completed_at"] for job_id in a_jobs)
        assert b_done["completed_at"] < a_done[3], (b_done["completed_at"], a_done[:4])
