"""Worker keys and the worker audio route, through the real app (fake engine, SQLite).

Admins create, list and revoke keys (the raw key only in the create response); a worker key
fetches the audio of a job in progress — whole, or one `Range` — and nothing else; user tokens
and API keys are refused on the worker route. The worker-side client (`RemoteAudio`) is run
against the same app: it resumes a broken transfer with `Range` and refuses audio whose size
does not match the stored size.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from scriberr.clock import utcnow
from scriberr.engine.base import CancelToken
from scriberr.ids import new_id
from scriberr.orchestrator.audio_source import (
    CHUNK_BYTES,
    AudioGone,
    AudioUnavailable,
    RemoteAudio,
)
from scriberr.persistence.files_repository import FileRepository
from scriberr.persistence.models import AudioFile
from scriberr.persistence.queue_repository import NewJob
from tests.api.conftest import (
    Account,
    add_user,
    create_api_key,
    login,
    run_cli,
)

AUDIO_BYTES = 700_001  # a few chunks, odd on purpose
WORKER_ROUTE = "/api/v1/worker/transcriptions/{}/audio"


@pytest.fixture
def core(make_core: Any) -> Any:
    """A Core whose workers never run (jobs are claimed by the tests, as a remote worker)."""
    return make_core(start=False)


def _stored_file(core: Any, user_id: str, content: bytes, *, stored_size: int | None = None) -> str:
    file_id = new_id("file")
    directory = core.config.data_dir / "uploads" / file_id
    directory.mkdir(parents=True)
    (directory / "audio.json").write_bytes(content)
    now = utcnow()
    FileRepository(core.database).add(
        AudioFile(
            id=file_id,
            user_id=user_id,
            title="Audio",
            kind="audio",
            status="ready",
            mime_type="audio/wav",
            size_bytes=len(content) if stored_size is None else stored_size,
            duration_seconds=1.0,
            original_filename="audio.json",
            storage_path=f"uploads/{file_id}/audio.json",
            created_at=now,
            updated_at=now,
        )
    )
    return file_id


def _job(core: Any, user_id: str, content: bytes, *, claim: bool = True, **kw: Any) -> str:
    file_id = _stored_file(core, user_id, content, **kw)
    job_id = core.queue.enqueue(NewJob(user_id, {"model": "fake-model"}, file_id=file_id))
    if claim:
        claimed = core.queue.claim("remote-worker/0", 600.0)
        assert claimed is not None and claimed.id == job_id
    return str(job_id)


def _new_key(client: TestClient, admin: Account, name: str = "gpu-1") -> dict[str, Any]:
    response = client.post("/api/v1/admin/worker-keys", json={"name": name}, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def content() -> bytes:
    return os.urandom(AUDIO_BYTES)


# -- the admin routes ---------------------------------------------------------------------------


def test_an_admin_creates_lists_and_revokes_worker_keys(
    client: TestClient, core: Any, user: Account
) -> None:
    created = _new_key(client, user, "gpu-1")
    key = created["key"]
    assert key.startswith("swk_") and len(key) > 40
    assert created["key_preview"] == f"swk_...{key[-4:]}"
    assert created["is_active"] is True and created["revoked_at"] is None
    listed = client.get("/api/v1/admin/worker-keys", headers=user.headers)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == created["id"] and item["name"] == "gpu-1"
    assert key not in listed.text and "key" not in item  # shown once, never again
    with core.database.session() as session:  # stored hashed
        assert key not in repr(session.execute(__import__("sqlalchemy").text(
            "SELECT key_hash, preview FROM worker_keys")).all())  # fmt: skip

    deleted = client.delete(f"/api/v1/admin/worker-keys/{created['id']}", headers=user.headers)
    assert deleted.status_code == 204
    [item] = client.get("/api/v1/admin/worker-keys", headers=user.headers).json()["items"]
    assert item["is_active"] is False and item["revoked_at"] is not None
    again = client.delete(f"/api/v1/admin/worker-keys/{created['id']}", headers=user.headers)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NOT_FOUND"


def test_members_and_worker_keys_cannot_manage_worker_keys(
    client: TestClient, core: Any, user: Account
) -> None:
    key = _new_key(client, user)["key"]
    add_user(core, "member")
    member = login(client, "member")
    for headers in (member.headers, _bearer(key), {}):
        for method, path in (
            ("POST", "/api/v1/admin/worker-keys"),
            ("GET", "/api/v1/admin/worker-keys"),
            ("DELETE", "/api/v1/admin/worker-keys/wkey_x"),
        ):
            body = {"name": "x"} if method == "POST" else None
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code in (401, 403), (method, path, response.text)
            assert set(response.json()["error"]) >= {"code", "message", "request_id"}


def test_a_bad_worker_key_name_is_a_400_in_the_contract_format(
    client: TestClient, user: Account
) -> None:
    for body in ({"name": ""}, {"name": "x" * 201}, {}, {"name": "a", "extra": 1}):
        response = client.post("/api/v1/admin/worker-keys", json=body, headers=user.headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["field"] is not None


# -- the worker route ---------------------------------------------------------------------------


def test_a_worker_key_fetches_the_audio_of_a_processing_job(
    client: TestClient, core: Any, user: Account, content: bytes
) -> None:
    key = _new_key(client, user)["key"]
    job_id = _job(core, user.user_id, content)
    response = client.get(WORKER_ROUTE.format(job_id), headers=_bearer(key))
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["accept-ranges"] == "bytes"
    head = client.head(WORKER_ROUTE.format(job_id), headers=_bearer(key))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(content))
    assert client.get("/api/v1/worker/key-check", headers=_bearer(key)).status_code == 204
    [listed] = client.get("/api/v1/admin/worker-keys", headers=user.headers).json()["items"]
    assert listed["last_used_at"] is not None


def test_the_worker_route_serves_ranges(
    client: TestClient, core: Any, user: Account, content: bytes
) -> None:
    key = _new_key(client, user)["key"]
    job_id = _job(core, user.user_id, content)
    url = WORKER_ROUTE.format(job_id)
    part = client.get(url, headers={**_bearer(key), "Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.content == content[1000:]
    assert part.headers["content-range"] == f"bytes 1000-{len(content) - 1}/{len(content)}"
    assert part.headers["content-length"] == str(len(content) - 1000)
    middle = client.get(url, headers={**_bearer(key), "Range": "bytes=10-19"})
    assert middle.status_code == 206 and middle.content == content[10:20]
    bad = client.get(url, headers={**_bearer(key), "Range": f"bytes={len(content)}-"})
    assert bad.status_code == 416
    assert bad.json()["error"]["code"]


def test_only_a_processing_job_is_served(
    client: TestClient, core: Any, user: Account, content: bytes
) -> None:
    key = _new_key(client, user)["key"]
    queued = _job(core, user.user_id, content, claim=False)
    for job_id in (queued, "tr_doesnotexist"):
        response = client.get(WORKER_ROUTE.format(job_id), headers=_bearer(key))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_wrong_revoked_and_user_credentials_are_refused_on_the_worker_route(
    client: TestClient, core: Any, user: Account, content: bytes
) -> None:
    created = _new_key(client, user)
    job_id = _job(core, user.user_id, content)
    url = WORKER_ROUTE.format(job_id)
    api_key = create_api_key(client, user)["key"]
    refused = {
        "no credentials": {},
        "wrong worker key": _bearer("swk_" + "A" * 43),
        "garbage": _bearer("not-a-key"),
        "user access token": user.headers,
        "user API key": _bearer(api_key),
        "API key header": {"X-API-Key": api_key},
        "worker key in X-API-Key": {"X-API-Key": created["key"]},
    }
    for name, headers in refused.items():
        for path in (url, "/api/v1/worker/key-check"):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (name, path, response.status_code)
            assert response.json()["error"]["code"] == "UNAUTHORIZED"
            assert content[:64] not in response.content
    assert client.get(url, headers=_bearer(created["key"])).status_code == 200
    client.delete(f"/api/v1/admin/worker-keys/{created['id']}", headers=user.headers)
    revoked = client.get(url, headers=_bearer(created["key"]))
    assert revoked.status_code == 401
    assert (
        client.get("/api/v1/worker/key-check", headers=_bearer(created["key"])).status_code == 401
    )


def test_a_worker_key_opens_no_other_route(
    client: TestClient, core: Any, user: Account, content: bytes, app: Any
) -> None:
    key = _new_key(client, user)["key"]
    job_id = _job(core, user.user_id, content)
    file_id = client.get(f"/api/v1/transcriptions/{job_id}", headers=user.headers).json()["file_id"]
    opened = []
    for route in app.routes:
        path: str = getattr(route, "path", "")
        if not path.startswith(("/api/", "/v1/")) or path.startswith("/api/v1/worker/"):
            continue
        concrete = (
            path.replace("{transcription_id}", job_id)
            .replace("{file_id}", file_id)
            .replace("{user_id}", user.user_id)
        )
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            response = client.request(method, concrete, headers=_bearer(key))
            if response.status_code < 400 and path != "/api/v1/auth/registration-status":
                opened.append(f"{method} {path} -> {response.status_code}")
    public = {"/api/v1/health", "/api/v1/auth/registration-status"}
    assert [entry for entry in opened if entry.split()[1] not in public] == []


# -- the worker-side client ---------------------------------------------------------------------


class _Breaking(httpx.SyncByteStream):
    """A response body that stops with a network error after `limit` bytes."""

    def __init__(self, body: bytes, limit: int) -> None:
        self._body, self._limit = body, limit

    def __iter__(self) -> Iterator[bytes]:
        yield self._body[: self._limit]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def _through_app(client: TestClient, log: list[dict[str, str]], break_first_at: int | None) -> Any:
    """An httpx transport that sends each request to the real app; the first response body is
    cut after `break_first_at` bytes (a broken transfer)."""

    def handle(request: httpx.Request) -> httpx.Response:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("authorization", "range")
        }
        log.append(headers)
        answer = client.request(request.method, request.url.path, headers=headers)
        body = answer.content
        if break_first_at is not None and len(log) == 1:
            stream: Any = _Breaking(body, break_first_at)
        else:
            stream = httpx.ByteStream(body)
        return httpx.Response(answer.status_code, headers=answer.headers, stream=stream)

    return httpx.MockTransport(handle)


def test_the_client_resumes_a_broken_transfer_with_range(
    client: TestClient, core: Any, user: Account, content: bytes, tmp_path: Path
) -> None:
    key = _new_key(client, user)["key"]
    job_id = _job(core, user.user_id, content)
    requests: list[dict[str, str]] = []
    remote = RemoteAudio(
        "http://server",
        key,
        retry_delay_s=0,
        transport=_through_app(client, requests, 2 * CHUNK_BYTES),
    )
    destination = tmp_path / "scratch" / "source.json"
    fetched = remote.fetch(job_id, destination, len(content), CancelToken())
    assert fetched.read_bytes() == content
    assert [r.get("range") for r in requests] == [None, f"bytes={2 * CHUNK_BYTES}-"]
    assert all(r["authorization"] == f"Bearer {key}" for r in requests)
    assert not list(destination.parent.glob("*.part"))


def test_the_client_refuses_audio_whose_size_differs_from_the_stored_size(
    client: TestClient, core: Any, user: Account, content: bytes, tmp_path: Path
) -> None:
    key = _new_key(client, user)["key"]
    job_id = _job(core, user.user_id, content, stored_size=len(content) + 1)
    requests: list[dict[str, str]] = []
    remote = RemoteAudio(
        "http://server",
        key,
        attempts=2,
        retry_delay_s=0,
        transport=_through_app(client, requests, None),
    )
    destination = tmp_path / "scratch" / "source.json"
    with pytest.raises(AudioUnavailable) as raised:
        remote.fetch(
            job_id, destination, core.worker_keys.job_audio(job_id).size_bytes, CancelToken()
        )
    assert "stored size" in raised.value.reason and key not in raised.value.reason
    assert not destination.exists() and not list(destination.parent.glob("*"))


def test_the_client_tells_a_refused_key_from_missing_audio(
    client: TestClient, core: Any, user: Account, content: bytes, tmp_path: Path
) -> None:
    created = _new_key(client, user)
    job_id = _job(core, user.user_id, content)
    requests: list[dict[str, str]] = []
    transport = _through_app(client, requests, None)
    remote = RemoteAudio("http://server", created["key"], retry_delay_s=0, transport=transport)
    assert remote.check() is None
    with pytest.raises(AudioGone):  # the job's audio does not exist: the job fails
        remote.fetch("tr_unknown", tmp_path / "a.json", None, CancelToken())
    client.delete(f"/api/v1/admin/worker-keys/{created['id']}", headers=user.headers)
    reason = remote.check()
    assert reason is not None and "refused the worker key" in reason
    assert created["key"] not in reason
    with pytest.raises(AudioUnavailable) as raised:  # this worker's problem: the job goes back
        remote.fetch(job_id, tmp_path / "b.json", len(content), CancelToken())
    assert "refused the worker key" in raised.value.reason


# -- the CLI ------------------------------------------------------------------------------------


def _workers_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data_dir, "workers", *args)


@pytest.mark.slow
def test_the_cli_creates_lists_and_revokes_worker_keys(
    client: TestClient, core: Any, user: Account, data_dir: Path
) -> None:
    made = _workers_cli(data_dir, "create-key", "gpu-cli")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("swk_") and "shown only once" in made.stderr
    assert client.get("/api/v1/worker/key-check", headers=_bearer(key)).status_code == 204
    listed = _workers_cli(data_dir, "list-keys")
    assert listed.returncode == 0 and key not in listed.stdout
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "KEY", "STATUS"]
    key_id, name, preview, status = row.split()[:4]
    assert (name, preview, status) == ("gpu-cli", f"swk_...{key[-4:]}", "active")
    revoked = _workers_cli(data_dir, "revoke-key", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/api/v1/worker/key-check", headers=_bearer(key)).status_code == 401
    assert _workers_cli(data_dir, "list-keys").stdout.splitlines()[1].split()[3] == "revoked"
    again = _workers_cli(data_dir, "revoke-key", key_id)
    assert (
        again.returncode == 1 and again.stderr.strip() == "scriberr workers: Worker key not found."
    )
