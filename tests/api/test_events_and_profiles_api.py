"""Global SSE (exactly once, with ids), profiles (default rule, option precedence)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scriberr.api.app import create_app

from .jobs_support import Env, make_env, serve_in_thread


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path) as built:
        yield built


def test_global_sse_delivers_each_event_once_with_ids(env: Env) -> None:
    file_id = env.fake_file({"delay_s": 0.2, "steps": 2})
    with serve_in_thread(create_app(env.core)) as base, httpx.Client(base_url=base) as http:
        seen: list[tuple[str, dict, str]] = []
        with http.stream("GET", "/api/v1/events", headers=env.headers, timeout=30) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            created = http.post(
                "/api/v1/transcriptions", json={"file_id": file_id}, headers=env.headers
            ).json()
            block: dict[str, str] = {}
            for line in stream.iter_lines():
                if line.startswith(("id: ", "event: ", "data: ")):
                    key, _, value = line.partition(": ")
                    block[key] = value
                elif line == "" and "event" in block:
                    seen.append((block["event"], json.loads(block["data"]), block["id"]))
                    block = {}
                    if seen[-1][0] == "transcription.completed":
                        break
    ids = [event_id for _, _, event_id in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    names = [name for name, _, _ in seen]
    assert names[0] == "transcription.queued"
    assert "transcription.updated" in names and "transcription.progress" in names
    assert names.count("transcription.completed") == 1
    assert all(data["id"] == created["id"] for _, data, _ in seen)


def test_global_sse_accepts_a_stream_token(env: Env) -> None:
    token = env.client.post("/api/v1/auth/stream-token", headers=env.headers).json()
    stream_token = token.get("token") or token.get("stream_token")
    with serve_in_thread(create_app(env.core)) as base, httpx.Client(base_url=base) as http:
        with http.stream("GET", f"/api/v1/events?stream_token={stream_token}", timeout=10) as r:
            assert r.status_code == 200
        denied = http.get("/api/v1/events?stream_token=bogus", timeout=10)
        assert denied.status_code == 401


def _wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_streams_stay_open_until_the_client_leaves_then_let_go(env: Env) -> None:
    """Streams never end on their own; when the client goes away the server drops them (with
    the default 15 s heartbeat, so it is not a heartbeat write that notices)."""
    broker = env.core.broker
    file_id = env.fake_file({"delay_s": 30, "steps": 300})
    job = env.create(file_id)
    with serve_in_thread(create_app(env.core)) as base, httpx.Client(base_url=base) as http:
        for url in ("/api/v1/events", f"/api/v1/transcriptions/{job['id']}/events"):
            with http.stream("GET", url, headers=env.headers, timeout=30) as stream:
                assert stream.status_code == 200
                lines = stream.iter_lines()  # (dropping the iterator would close the stream)
                assert next(lines).startswith("retry: ")
                time.sleep(1.5)  # past the streams' first database poll and disconnect check
                assert broker.subscriber_count() == 1, url
            # The client left: the server closes its side within a few seconds.
            assert _wait_for(lambda: broker.subscriber_count() == 0), url
    env.client.post(f"/api/v1/transcriptions/{job['id']}:cancel", headers=env.headers)


def _profile(env: Env, **body: object) -> dict:
    response = env.client.post("/api/v1/profiles", json=body, headers=env.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_profiles_crud_and_single_default(env: Env) -> None:
    first = _profile(env, name="Meetings", options={"diarization": True}, is_default=True)
    second = _profile(env, name="Quick", options={"model": "fake-model-2"})
    assert first["id"].startswith("profile_") and first["is_default"] is True
    assert second["is_default"] is False

    made = env.client.post(f"/api/v1/profiles/{second['id']}:set-default", headers=env.headers)
    assert made.status_code == 200 and made.json()["is_default"] is True
    listed = env.client.get("/api/v1/profiles", headers=env.headers).json()["items"]
    assert [(p["name"], p["is_default"]) for p in listed] == [("Meetings", False), ("Quick", True)]

    patched = env.client.patch(
        f"/api/v1/profiles/{first['id']}",
        json={"is_default": True, "description": "long calls"},
        headers=env.headers,
    ).json()
    assert patched["is_default"] is True and patched["description"] == "long calls"
    listed = env.client.get("/api/v1/profiles", headers=env.headers).json()["items"]
    assert sum(p["is_default"] for p in listed) == 1

    settings = env.client.get("/api/v1/settings", headers=env.headers).json()
    assert settings["default_profile_id"] == first["id"]

    assert (
        env.client.delete(f"/api/v1/profiles/{first['id']}", headers=env.headers).status_code == 204
    )
    listed = env.client.get("/api/v1/profiles", headers=env.headers).json()["items"]
    assert [p["is_default"] for p in listed] == [False]
    assert env.client.get(f"/api/v1/profiles/{first['id']}", headers=env.headers).status_code == 404
    duplicate = env.client.post("/api/v1/profiles", json={"name": "Quick"}, headers=env.headers)
    assert duplicate.status_code == 409


def test_profile_validation(env: Env) -> None:
    bad_model = env.client.post(
        "/api/v1/profiles", json={"name": "x", "options": {"model": "nope"}}, headers=env.headers
    )
    assert bad_model.status_code == 422
    assert bad_model.json()["error"]["field"] == "options.model"
    bad_speakers = env.client.post(
        "/api/v1/profiles",
        json={"name": "y", "options": {"min_speakers": 4, "max_speakers": 2}},
        headers=env.headers,
    )
    assert bad_speakers.status_code == 422
    missing = env.client.post("/api/v1/profiles/profile_nope:set-default", headers=env.headers)
    assert missing.status_code == 404


def test_option_precedence_request_over_profile_over_default_over_config(env: Env) -> None:
    _profile(
        env,
        name="Default",
        options={"model": "fake-model-2", "language": "en", "num_speakers": 2},
        is_default=True,
    )
    named = _profile(
        env, name="Named", options={"diarization": True, "language": "en", "prompt": "p"}
    )
    file_id = env.fake_file()

    only_default = env.create(file_id)["options"]
    assert only_default["model"] == "fake-model-2"  # default profile over config
    assert only_default["num_speakers"] == 2
    assert only_default["task"] == "transcribe" and only_default["diarization"] is False

    with_named = env.create(file_id, profile_id=named["id"])
    assert with_named["profile_id"] == named["id"]
    options = with_named["options"]
    assert options["diarization"] is True and options["prompt"] == "p"  # named over default
    assert options["model"] == "fake-model-2" and options["num_speakers"] == 2  # inherited

    overridden = env.create(
        file_id,
        profile_id=named["id"],
        options={"model": "fake-model", "diarization": False, "task": "translate"},
    )["options"]
    assert overridden["model"] == "fake-model"  # request over everything
    assert overridden["diarization"] is False and overridden["task"] == "translate"
    assert overridden["prompt"] == "p" and overridden["language"] == "en"


def test_auto_transcription_uses_the_default_profile(env: Env) -> None:
    from .jobs_support import SAMPLE_WAV

    _profile(env, name="Auto", options={"model": "fake-model-2"}, is_default=True)
    env.client.patch(
        "/api/v1/settings", json={"auto_transcription_enabled": True}, headers=env.headers
    )
    uploaded = env.client.post(
        "/api/v1/files",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        headers=env.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    items = env.client.get("/api/v1/transcriptions", headers=env.headers).json()["items"]
    assert [(i["file_id"], i["options"]["model"]) for i in items] == [
        (uploaded.json()["id"], "fake-model-2")
    ]
    deleted = env.client.delete(f"/api/v1/files/{uploaded.json()['id']}", headers=env.headers)
    assert deleted.status_code == 204
    assert env.client.get("/api/v1/transcriptions", headers=env.headers).json()["items"] == []
    assert not (env.data_dir / "transcripts" / items[0]["id"]).exists()


@pytest.mark.slow
def test_global_sse_reports_jobs_run_by_another_process_once(tmp_path: Path) -> None:
    with make_env(tmp_path, start=False) as paused:
        file_id = paused.fake_file()
        queue = paused.core.queue
        with serve_in_thread(create_app(paused.core)) as base, httpx.Client(base_url=base) as http:
            seen: list[tuple[str, dict, str]] = []
            with http.stream("GET", "/api/v1/events", headers=paused.headers, timeout=30) as stream:
                created = http.post(
                    "/api/v1/transcriptions", json={"file_id": file_id}, headers=paused.headers
                ).json()
                claimed = queue.claim("worker_elsewhere:1", 60)
                assert claimed is not None and claimed.id == created["id"]
                execution = queue.start_execution(
                    claimed, provider="fake", model="fake-model", request_options={}
                )
                queue.progress(claimed.id, claimed.worker_id, 0.5, "transcribing")
                block: dict[str, str] = {}
                for line in stream.iter_lines():
                    if line.startswith(("id: ", "event: ", "data: ")):
                        key, _, value = line.partition(": ")
                        block[key] = value
                    elif line == "" and "event" in block:
                        seen.append((block["event"], json.loads(block["data"]), block["id"]))
                        block = {}
                        if seen[-1][1].get("stage") == "transcribing":
                            queue.complete_and_claim(
                                claimed,
                                execution,
                                transcript_json='{"text": "x"}',
                                language="en",
                                output_path=None,
                            )[0]
                        if seen[-1][0] == "transcription.completed":
                            break
    names = [name for name, _, _ in seen]
    assert names[:2] == ["transcription.queued", "transcription.updated"]
    assert names.count("transcription.completed") == 1
    states = [(d["status"], d["stage"]) for n, d, _ in seen if n == "transcription.progress"]
    assert len(states) == len(set(states)), "a state was delivered twice"
    ids = [event_id for _, _, event_id in seen]
    assert len(ids) == len(set(ids))
