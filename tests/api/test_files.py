"""Files: upload (probe, limits, names), list/get/patch/delete, ownership, audio ranges,
idempotent uploads, auto transcription and URL imports."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from .conftest import JFK, SAMPLE, Account, upload
from .media import write_silent_video, write_video_with_audio


def _stored_files(core: Any) -> list[Path]:
    uploads = core.config.data_dir / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


def test_upload_probes_content_and_defaults_the_title(client: Any, user: Account) -> None:
    response = upload(client, user.headers, JFK, content_type="text/plain")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {
        "id", "title", "kind", "status", "mime_type", "size_bytes", "duration_seconds",
        "created_at", "updated_at",
    }  # fmt: skip
    assert body["id"].startswith("file_")
    assert body["title"] == "jfk"
    assert body["kind"] == "audio" and body["status"] == "ready"
    assert body["mime_type"] == "audio/flac"
    assert body["size_bytes"] == JFK.stat().st_size
    assert body["duration_seconds"] == pytest.approx(11.0, abs=0.1)
    assert body["created_at"].endswith("Z")
    assert "storage_path" not in body and "path" not in str(body).lower()


def test_explicit_title_and_video_kind(client: Any, user: Account, tmp_path: Path) -> None:
    video = write_video_with_audio(tmp_path / "clip.mp4")
    response = upload(client, user.headers, video, title="  Team call  ")
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Team call"
    assert response.json()["kind"] == "video"
    assert response.json()["mime_type"] == "video/mp4"


def test_text_file_named_like_audio_is_415(
    client: Any, core: Any, user: Account, tmp_path: Path
) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_text("this is just text pretending to be an mp3\n" * 100)
    response = upload(client, user.headers, fake, content_type="audio/mpeg")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    silent = upload(client, user.headers, write_silent_video(tmp_path / "silent.mp4"))
    assert silent.status_code == 415
    assert _stored_files(core) == []
    assert client.get("/api/v1/files", headers=user.headers).json()["items"] == []


def test_upload_over_the_limit_is_413_and_leaves_nothing(
    client: Any, core: Any, user: Account, tmp_path: Path
) -> None:
    patched = client.patch("/api/v1/settings", json={"max_upload_size_mb": 1}, headers=user.headers)
    assert patched.status_code == 200
    big = tmp_path / "big.wav"
    big.write_bytes(SAMPLE.read_bytes() * 2)  # ~1.9 MB
    response = upload(client, user.headers, big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert _stored_files(core) == []
    assert client.get("/api/v1/files", headers=user.headers).json()["items"] == []
    assert upload(client, user.headers, SAMPLE).status_code == 201  # under 1 MB is fine


def test_server_limit_applies(make_core: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from scriberr.api.app import create_app

    from .conftest import register

    core = make_core(start=False, SCRIBERR_MAX_UPLOAD_MB="1")
    with TestClient(create_app(core)) as client:
        account = register(client)
        big = tmp_path / "big.wav"
        big.write_bytes(SAMPLE.read_bytes() * 2)
        assert upload(client, account.headers, big).status_code == 413
        raise_cap = client.patch(
            "/api/v1/settings", json={"max_upload_size_mb": 5}, headers=account.headers
        )
        assert raise_cap.status_code == 422
        assert raise_cap.json()["error"]["field"] == "max_upload_size_mb"
    assert _stored_files(core) == []


def test_path_traversal_names_are_stored_safely(client: Any, core: Any, user: Account) -> None:
    response = upload(client, user.headers, SAMPLE, filename="../../../etc/evil\\..\\x.wav")
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "x"
    stored = _stored_files(core)
    uploads = (core.config.data_dir / "uploads").resolve()
    assert len(stored) == 1
    assert stored[0].resolve().is_relative_to(uploads)
    assert stored[0].parent.name == response.json()["id"]
    assert ".." not in stored[0].name and "/" not in stored[0].name
    dots = upload(client, user.headers, SAMPLE, filename="..")
    assert dots.status_code == 201 and dots.json()["title"] == "Untitled"
    assert all(p.resolve().is_relative_to(uploads) for p in _stored_files(core))


def test_multipart_problems_are_400(client: Any, user: Account) -> None:
    no_file = client.post("/api/v1/files", files={"title": (None, "x")}, headers=user.headers)
    assert no_file.status_code == 400
    assert no_file.json()["error"]["field"] == "file"
    urlencoded = client.post("/api/v1/files", data={"title": "x"}, headers=user.headers)
    assert urlencoded.status_code == 400
    not_multipart = client.post("/api/v1/files", json={"file": "x"}, headers=user.headers)
    assert not_multipart.status_code == 400
    truncated = client.post(
        "/api/v1/files",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc',
        headers={**user.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert truncated.status_code == 400


def _make_files(client: Any, headers: dict[str, str], titles: list[str]) -> list[str]:
    ids = []
    for title in titles:
        response = upload(client, headers, SAMPLE, title=title)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


def test_list_filters_sorts_and_pages(client: Any, user: Account, tmp_path: Path) -> None:
    ids = _make_files(client, user.headers, ["Charlie", "alpha", "Bravo meeting"])
    video = upload(client, user.headers, write_video_with_audio(tmp_path / "v.mp4"), title="Delta")
    ids.append(video.json()["id"])

    newest_first = client.get("/api/v1/files", headers=user.headers).json()
    assert [f["id"] for f in newest_first["items"]] == list(reversed(ids))
    assert newest_first["next_cursor"] is None

    by_title = client.get("/api/v1/files?sort=title", headers=user.headers).json()["items"]
    assert [f["title"] for f in by_title] == ["Bravo meeting", "Charlie", "Delta", "alpha"]

    search = client.get("/api/v1/files?q=MEET", headers=user.headers).json()["items"]
    assert [f["title"] for f in search] == ["Bravo meeting"]
    videos = client.get("/api/v1/files?kind=video", headers=user.headers).json()["items"]
    assert [f["id"] for f in videos] == [ids[-1]]
    assert client.get("/api/v1/files?status=failed", headers=user.headers).json()["items"] == []

    seen: list[str] = []
    cursor = None
    while True:
        query = "/api/v1/files?limit=1&sort=-title" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=user.headers).json()
        seen += [f["title"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["alpha", "Delta", "Charlie", "Bravo meeting"]

    bad_sort = client.get("/api/v1/files?sort=size", headers=user.headers)
    assert bad_sort.status_code == 422 and bad_sort.json()["error"]["field"] == "sort"
    bad_cursor = client.get("/api/v1/files?cursor=nonsense", headers=user.headers)
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"]["field"] == "cursor"
    first = client.get("/api/v1/files?limit=1", headers=user.headers).json()["next_cursor"]
    mixed = client.get(f"/api/v1/files?sort=title&cursor={first}", headers=user.headers)
    assert mixed.status_code == 400


def test_huge_limit_is_capped(client: Any, core: Any, user: Account) -> None:
    from scriberr.clock import utcnow
    from scriberr.persistence.models import AudioFile

    now = utcnow()
    with core.database.write_session() as session:
        for index in range(205):
            session.add(
                AudioFile(
                    id=f"file_{index:06d}", user_id=user.user_id, title=f"t{index}",
                    kind="audio", status="ready", created_at=now, updated_at=now,
                )
            )  # fmt: skip
    page = client.get("/api/v1/files?limit=1000000000000", headers=user.headers).json()
    assert len(page["items"]) == 200 and page["next_cursor"]
    rest = client.get(f"/api/v1/files?limit=999&cursor={page['next_cursor']}", headers=user.headers)
    assert len(rest.json()["items"]) == 5 and rest.json()["next_cursor"] is None
    assert len(client.get("/api/v1/files", headers=user.headers).json()["items"]) == 50
    assert len(client.get("/api/v1/files?limit=0", headers=user.headers).json()["items"]) == 1


def test_get_patch_delete(client: Any, core: Any, user: Account) -> None:
    file_id = upload(client, user.headers, SAMPLE).json()["id"]
    got = client.get(f"/api/v1/files/{file_id}", headers=user.headers)
    assert got.status_code == 200 and got.json()["title"] == "sample"
    patched = client.patch(
        f"/api/v1/files/{file_id}", json={"title": "Renamed"}, headers=user.headers
    )
    assert patched.status_code == 200 and patched.json()["title"] == "Renamed"
    empty = client.patch(f"/api/v1/files/{file_id}", json={"title": "  "}, headers=user.headers)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "title"
    unknown_field = client.patch(
        f"/api/v1/files/{file_id}", json={"kind": "video"}, headers=user.headers
    )
    assert unknown_field.status_code == 422 and unknown_field.json()["error"]["field"] == "kind"
    assert (core.config.data_dir / "uploads" / file_id).is_dir()
    assert client.delete(f"/api/v1/files/{file_id}", headers=user.headers).status_code == 204
    assert client.get(f"/api/v1/files/{file_id}", headers=user.headers).status_code == 404
    assert not (core.config.data_dir / "uploads" / file_id).exists()
    assert client.delete(f"/api/v1/files/{file_id}", headers=user.headers).status_code == 404


def test_delete_removes_the_files_transcriptions(client: Any, core: Any, user: Account) -> None:
    file_id = upload(client, user.headers, SAMPLE).json()["id"]
    created = client.post("/api/v1/transcriptions", json={"file_id": file_id}, headers=user.headers)
    assert created.status_code == 202
    job_id = created.json()["id"]
    assert client.delete(f"/api/v1/files/{file_id}", headers=user.headers).status_code == 204
    assert client.get(f"/api/v1/transcriptions/{job_id}", headers=user.headers).status_code == 404
    assert not (core.config.transcripts_dir / job_id).exists()


def test_other_users_files_are_not_found(client: Any, user: Account, other_user: Account) -> None:
    file_id = upload(client, user.headers, SAMPLE).json()["id"]
    theirs = other_user.headers
    assert client.get(f"/api/v1/files/{file_id}", headers=theirs).status_code == 404
    assert (
        client.patch(f"/api/v1/files/{file_id}", json={"title": "x"}, headers=theirs).status_code
        == 404
    )
    assert client.get(f"/api/v1/files/{file_id}/audio", headers=theirs).status_code == 404
    assert client.delete(f"/api/v1/files/{file_id}", headers=theirs).status_code == 404
    assert client.get("/api/v1/files", headers=theirs).json()["items"] == []
    assert client.get(f"/api/v1/files/{file_id}", headers=user.headers).status_code == 200


@pytest.fixture
def sample_id(client: Any, user: Account) -> str:
    file_id: str = upload(client, user.headers, SAMPLE).json()["id"]
    return file_id


def _get_range(client: Any, user: Account, file_id: str, value: str | None) -> Any:
    headers = dict(user.headers)
    if value is not None:
        headers["Range"] = value
    return client.get(f"/api/v1/files/{file_id}/audio", headers=headers)


def test_audio_full_and_ranges(client: Any, user: Account, sample_id: str) -> None:
    data = SAMPLE.read_bytes()
    size = len(data)
    full = _get_range(client, user, sample_id, None)
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "audio/wav"
    assert int(full.headers["content-length"]) == size

    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-500": (size - 500, size - 1),
        f"bytes=10-{size + 5000}": (10, size - 1),
        f"bytes=-{size + 10}": (0, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
    }
    for header, (start, end) in cases.items():
        response = _get_range(client, user, sample_id, header)
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {start}-{end}/{size}", header
        assert response.content == data[start : end + 1], header
        assert int(response.headers["content-length"]) == end - start + 1


def test_unsatisfiable_ranges_are_416(client: Any, user: Account, sample_id: str) -> None:
    size = SAMPLE.stat().st_size
    for header in (
        f"bytes={size}-",
        f"bytes={size + 10}-{size + 20}",
        "bytes=-0",
        "bytes=9-3",
        "bytes=abc",
        "bytes=-",
    ):
        response = _get_range(client, user, sample_id, header)
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{size}"
        assert response.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"


def test_ignored_range_forms_send_everything(client: Any, user: Account, sample_id: str) -> None:
    for header in ("items=0-5", "bytes=0-1,5-6"):
        response = _get_range(client, user, sample_id, header)
        assert response.status_code == 200, header
        assert len(response.content) == SAMPLE.stat().st_size


def test_idempotent_upload_replays_the_first_response(
    client: Any, core: Any, user: Account
) -> None:
    headers = {**user.headers, "Idempotency-Key": "upload-1"}
    first = upload(client, headers, SAMPLE)
    second = upload(client, headers, JFK)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotency-replayed"] == "true"
    assert len(client.get("/api/v1/files", headers=user.headers).json()["items"]) == 1
    assert len(_stored_files(core)) == 1
    other = upload(client, {**user.headers, "Idempotency-Key": "upload-2"}, SAMPLE)
    assert other.json()["id"] != first.json()["id"]
    # Failures are not stored: fixing the request with the same key works.
    failing = client.post(
        "/api/v1/files",
        files={"title": (None, "x")},
        headers={**user.headers, "Idempotency-Key": "k3"},
    )
    assert failing.status_code == 400
    assert upload(client, {**user.headers, "Idempotency-Key": "k3"}, SAMPLE).status_code == 201


def test_idempotency_keys_are_per_user(client: Any, user: Account, other_user: Account) -> None:
    mine = upload(client, {**user.headers, "Idempotency-Key": "same"}, SAMPLE)
    theirs = upload(client, {**other_user.headers, "Idempotency-Key": "same"}, SAMPLE)
    assert mine.json()["id"] != theirs.json()["id"]
    assert (
        client.get(f"/api/v1/files/{theirs.json()['id']}", headers=other_user.headers).status_code
        == 200
    )


def test_auto_transcription_calls_back_only_when_enabled(
    client: Any, core: Any, user: Account
) -> None:
    def jobs_for(file_id: str) -> list[dict[str, Any]]:
        listed = client.get("/api/v1/transcriptions", headers=user.headers).json()["items"]
        return [job for job in listed if job["file_id"] == file_id]

    quiet = upload(client, user.headers, SAMPLE).json()["id"]
    assert jobs_for(quiet) == []
    client.patch(
        "/api/v1/settings", json={"auto_transcription_enabled": True}, headers=user.headers
    )
    loud = upload(client, user.headers, SAMPLE).json()["id"]
    assert len(jobs_for(loud)) == 1 and jobs_for(quiet) == []


def test_upload_publishes_file_ready(client: Any, core: Any, user: Account) -> None:
    with core.broker.subscribe(user_id=user.user_id) as subscription:
        file_id = upload(client, user.headers, SAMPLE).json()["id"]
        event = subscription.next_sync(timeout=5)
    assert event is not None and event.type == "file.ready"
    assert event.data["id"] == file_id


@pytest.fixture
def core(make_core: Any) -> Any:
    """These tests import from a loopback media server, which only private-allowed imports
    may reach (the refusal itself is tested in test_import_guard.py)."""
    return make_core(SCRIBERR_IMPORT_ALLOW_PRIVATE="true")


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server serving the sample audio (and a text file)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "talk.wav").write_bytes(SAMPLE.read_bytes())
    (root / "notes.txt").write_text("not media")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _wait_terminal(client: Any, user: Account, file_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/files/{file_id}", headers=user.headers).json()
        if body["status"] != "processing":
            return body
        time.sleep(0.1)
    raise AssertionError("import did not finish")


@pytest.mark.slow
def test_url_import_becomes_ready(client: Any, core: Any, user: Account, media_server: str) -> None:
    with core.broker.subscribe(user_id=user.user_id) as subscription:
        response = client.post(
            "/api/v1/files:import-youtube",
            json={"url": f"{media_server}/talk.wav"},
            headers=user.headers,
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "processing" and body["kind"] == "youtube"
        done = _wait_terminal(client, user, body["id"])
        event = subscription.next_sync(timeout=10)
    assert done["status"] == "ready", done
    assert done["title"] == "talk"
    assert done["mime_type"] == "audio/wav" and done["duration_seconds"] == pytest.approx(30.0)
    assert event is not None and event.type == "file.ready" and event.data["id"] == body["id"]
    audio = client.get(f"/api/v1/files/{body['id']}/audio", headers=user.headers)
    assert audio.content == SAMPLE.read_bytes()


def test_url_import_failures_are_clean(
    client: Any, core: Any, user: Account, media_server: str
) -> None:
    with core.broker.subscribe(user_id=user.user_id) as subscription:
        unreachable = client.post(
            "/api/v1/files:import-youtube",
            json={"url": "http://127.0.0.1:1/video", "title": "Nope"},
            headers=user.headers,
        ).json()
        failed = _wait_terminal(client, user, unreachable["id"])
        event = subscription.next_sync(timeout=10)
    assert failed["status"] == "failed" and failed["title"] == "Nope"
    assert failed["error"] == "Could not download media from the URL."
    assert event is not None and event.type == "file.failed"
    assert event.data["error"] == failed["error"]
    not_media = client.post(
        "/api/v1/files:import-youtube",
        json={"url": f"{media_server}/notes.txt"},
        headers=user.headers,
    ).json()
    result = _wait_terminal(client, user, not_media["id"])
    assert result["status"] == "failed"
    assert "127.0.0.1" not in result["error"] and "Errno" not in result["error"]
    assert not (core.config.data_dir / "uploads" / not_media["id"]).exists()
    pending = client.get(f"/api/v1/files/{unreachable['id']}/audio", headers=user.headers)
    assert pending.status_code == 409


def test_url_import_rejects_non_http_urls(client: Any, user: Account) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/a.mp3", "not a url"):
        response = client.post(
            "/api/v1/files:import-youtube", json={"url": url}, headers=user.headers
        )
        assert response.status_code == 400, url
        assert response.json()["error"]["field"] == "url"
    assert client.get("/api/v1/files", headers=user.headers).json()["items"] == []


def test_import_is_idempotent(client: Any, user: Account, media_server: str) -> None:
    headers = {**user.headers, "Idempotency-Key": "imp-1"}
    first = client.post(
        "/api/v1/files:import-youtube", json={"url": f"{media_server}/talk.wav"}, headers=headers
    )
    second = client.post(
        "/api/v1/files:import-youtube", json={"url": f"{media_server}/talk.wav"}, headers=headers
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    _wait_terminal(client, user, first.json()["id"])


def test_interrupted_imports_fail_at_startup(client: Any, core: Any, user: Account) -> None:
    from scriberr.clock import utcnow
    from scriberr.persistence.models import AudioFile

    now = utcnow()
    with core.database.write_session() as session:
        session.add(
            AudioFile(
                id="file_interrupted", user_id=user.user_id, title="half", kind="youtube",
                status="processing", source_url="https://example.invalid/v", created_at=now,
                updated_at=now,
            )
        )  # fmt: skip
    partial = core.config.data_dir / "uploads" / "file_interrupted"
    partial.mkdir(parents=True)
    (partial / "source.webm.part").write_bytes(b"partial")
    with core.broker.subscribe(user_id=user.user_id) as subscription:
        assert core.files.fail_interrupted_imports() == 1
        event = subscription.next_sync(timeout=5)
    body = client.get("/api/v1/files/file_interrupted", headers=user.headers).json()
    assert body["status"] == "failed" and "interrupted" in body["error"]
    assert event is not None and event.type == "file.failed"
    assert not partial.exists()
    assert core.files.fail_interrupted_imports() == 0


def _wait_status(client: Any, headers: dict[str, str], transcription_id: str, wanted: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/transcriptions/{transcription_id}", headers=headers).json()
        if body["status"] == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"{transcription_id} never became {wanted}")


def test_patch_keeps_and_delete_cancels_a_running_job(make_core: Any) -> None:
    from fastapi.testclient import TestClient

    from scriberr.api.app import create_app
    from scriberr.engine.fake import FakeProvider, FakeScript, fake_registry

    from .conftest import register

    slow = fake_registry(FakeProvider(FakeScript(delay_s=60, steps=600)))
    core = make_core(providers=slow)
    with TestClient(create_app(core)) as client:
        account = register(client)
        file_id = upload(client, account.headers, SAMPLE).json()["id"]
        job = client.post(
            "/api/v1/transcriptions", json={"file_id": file_id}, headers=account.headers
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        _wait_status(client, account.headers, job_id, "processing")
        renamed = client.patch(
            f"/api/v1/files/{file_id}", json={"title": "New name"}, headers=account.headers
        )
        assert renamed.status_code == 200 and renamed.json()["title"] == "New name"
        time.sleep(0.5)  # a rename never cancels: the job keeps running
        state = client.get(f"/api/v1/transcriptions/{job_id}", headers=account.headers).json()
        assert state["status"] == "processing"
        second = job_id
        assert client.delete(f"/api/v1/files/{file_id}", headers=account.headers).status_code == 204
        gone = client.get(f"/api/v1/transcriptions/{second}", headers=account.headers)
        assert gone.status_code == 404
        assert not (core.config.data_dir / "uploads" / file_id).exists()
