"""Transcription routes against the real app, core and queue with the fake speech provider."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scriberr.api.app import create_app
from scriberr.engine.fake import FakeScript

from .jobs_support import (
    SAMPLE_WAV,
    Env,
    SseItem,
    events_of,
    make_env,
    read_sse,
    serve_in_thread,
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path) as built:
        yield built


@pytest.fixture
def quick_heartbeat_env(tmp_path: Path) -> Iterator[Env]:
    """Event streams send `: heartbeat` every 200 ms."""
    with make_env(tmp_path, SCRIBERR_SSE_HEARTBEAT="200ms") as built:
        yield built


@pytest.fixture
def paused_env(tmp_path: Path) -> Iterator[Env]:
    """Workers not started: jobs stay queued."""
    with make_env(tmp_path, start=False) as built:
        yield built


@pytest.fixture
def stopping_env(tmp_path: Path) -> Iterator[Env]:
    """Workers stopped (shutdown in progress): creates answer 503."""
    with make_env(tmp_path) as built:
        built.core.workers.stop(1)
        yield built


def test_create_runs_to_completion_with_every_public_field(env: Env) -> None:
    file_id = env.fake_file({"text": "Hello there. General Kenobi."})
    created = env.create(file_id, title="Meeting")
    assert created["status"] == "queued"
    assert created["id"].startswith("tr_")
    assert created["file_id"] == file_id
    assert created["title"] == "Meeting"
    assert created["progress"] == 0.0
    assert created["progress_stage"] == "queued"
    assert created["created_at"].endswith("Z")

    job = env.wait(created["id"])
    assert job["status"] == "completed"
    assert job["progress"] == 1.0
    assert job["completed_at"].endswith("Z") and job["started_at"].endswith("Z")
    assert job["error"] is None and job["failed_at"] is None
    assert job["options"] == {
        "model": "fake-model",
        "language": "auto",
        "task": "transcribe",
        "diarization": False,
        "num_speakers": None,
        "min_speakers": None,
        "max_speakers": None,
        "prompt": None,
        "hotwords": None,
        "beam_size": None,
        "temperature": None,
        "vad": True,
        "vad_min_silence_ms": None,
        "condition_on_previous_text": True,
    }

    transcript = env.client.get(
        f"/api/v1/transcriptions/{created['id']}/transcript", headers=env.headers
    ).json()
    assert transcript["transcription_id"] == created["id"]
    assert transcript["text"] == "Hello there. General Kenobi."
    assert [w["word"].strip() for w in transcript["words"]] == [
        "Hello",
        "there.",
        "General",
        "Kenobi.",
    ]
    assert transcript["segments"] and "speaker" not in transcript["segments"][0]


def test_transcript_before_completion_is_409_and_unknown_is_404(paused_env: Env) -> None:
    job = paused_env.create(paused_env.fake_file())
    response = paused_env.client.get(
        f"/api/v1/transcriptions/{job['id']}/transcript", headers=paused_env.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    missing = paused_env.client.get(
        "/api/v1/transcriptions/tr_missing/transcript?format=srt", headers=paused_env.headers
    )
    assert missing.status_code == 404


def test_exports_carry_speaker_labels(env: Env) -> None:
    file_id = env.fake_file({"text": "one two three four five six", "speakers": 2})
    job = env.create(file_id, options={"diarization": True})
    assert env.wait(job["id"])["status"] == "completed"
    base = f"/api/v1/transcriptions/{job['id']}/transcript"

    srt = env.client.get(base + "?format=srt", headers=env.headers)
    assert srt.status_code == 200
    first_cue = srt.text.split("\n\n")[0].splitlines()
    assert first_cue[0] == "1"
    assert first_cue[1].count(":") == 4 and " --> " in first_cue[1] and "," in first_cue[1]
    assert first_cue[2].startswith("SPEAKER_00: ")

    vtt = env.client.get(base + "?format=vtt", headers=env.headers)
    assert vtt.text.startswith("WEBVTT\n")
    assert "<v SPEAKER_00>" in vtt.text and "." in vtt.text.splitlines()[2]
    assert vtt.headers["content-type"].startswith("text/vtt")

    txt = env.client.get(base + "?format=txt", headers=env.headers)
    assert txt.headers["content-type"].startswith("text/plain")
    assert "SPEAKER_00: " in txt.text

    exported = env.client.get(base + "?format=json", headers=env.headers).json()
    assert exported["segments"][0]["speaker"] == "SPEAKER_00"
    assert all("speaker" in word for word in exported["words"])

    bad = env.client.get(base + "?format=pdf", headers=env.headers)
    assert bad.status_code in (400, 422)


def _terminal_then_heartbeat(items: list[SseItem]) -> bool:
    names = [i.name for i in items]
    terminal = next((n for n, name in enumerate(names) if name in TERMINAL_NAMES), None)
    return terminal is not None and any(i.comment == "heartbeat" for i in items[terminal:])


TERMINAL_NAMES = ("transcription.completed", "transcription.failed", "transcription.canceled")


def test_per_job_sse_orders_progress_then_one_terminal_event(quick_heartbeat_env: Env) -> None:
    env = quick_heartbeat_env
    file_id = env.fake_file({"delay_s": 1.0, "steps": 4})
    with serve_in_thread(create_app(env.core)) as base, httpx.Client(base_url=base) as http:
        job = env.create(file_id)
        url = f"/api/v1/transcriptions/{job['id']}/events"
        items = read_sse(http, url, env.headers, until=_terminal_then_heartbeat)
    # (the job's partial segments come too: tests/api/test_live_segments.py)
    segments = [data for name, data in events_of(items) if name == "transcription.segment"]
    assert [data["index"] for data in segments] == [0]
    events = [(name, data) for name, data in events_of(items) if name != "transcription.segment"]
    names = [name for name, _ in events]
    assert names[-1] == "transcription.completed"
    assert names.count("transcription.completed") == 1
    assert set(names[:-1]) == {"transcription.progress"}
    progress = [data["progress"] for name, data in events if name == "transcription.progress"]
    assert progress == sorted(progress)
    assert all(set(data) >= {"id", "status", "progress", "stage"} for _, data in events)
    assert events[-1][1] == {
        "id": job["id"],
        "status": "completed",
        "progress": 1.0,
        "stage": "completed",
    }
    # The stream stayed open after the terminal event: only heartbeats follow it.
    after = items[[i.name for i in items].index("transcription.completed") + 1 :]
    assert after and all(i.comment == "heartbeat" for i in after)


def test_sse_of_finished_job_sends_terminal_event_then_heartbeats(
    quick_heartbeat_env: Env,
) -> None:
    env = quick_heartbeat_env
    job = env.create(env.fake_file({"fail": "engine", "message": "bad audio"}))
    assert env.wait(job["id"])["status"] == "failed"
    url = f"/api/v1/transcriptions/{job['id']}/events"
    with serve_in_thread(create_app(env.core)) as base, httpx.Client(base_url=base) as http:
        started = time.monotonic()
        items = read_sse(
            http,
            url,
            env.headers,
            until=lambda got: sum(i.comment == "heartbeat" for i in got) >= 3,
        )
        elapsed = time.monotonic() - started
    assert [name for name, _ in events_of(items)] == ["transcription.failed"]
    assert events_of(items)[0][1]["error"] == "bad audio"
    assert items[0].name == "transcription.failed"
    assert [i.comment for i in items[1:]] == ["heartbeat"] * 3
    assert elapsed >= 3 * 0.2  # heartbeats come at the configured cadence, not in a burst


@pytest.mark.slow
def test_sse_falls_back_to_the_database_for_other_processes(paused_env: Env) -> None:
    """A job run by another process publishes nothing into this broker: the stream notices the
    row's progress and completion by reading the database."""
    job = paused_env.create(paused_env.fake_file())
    queue = paused_env.core.queue
    claimed = queue.claim("worker_elsewhere:1", 60)
    assert claimed is not None and claimed.id == job["id"]
    execution = queue.start_execution(
        claimed, provider="fake", model="fake-model", request_options={}
    )
    app = create_app(paused_env.core)
    events: list[tuple[str, dict[str, Any]]] = []
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        url = f"/api/v1/transcriptions/{job['id']}/events"
        with http.stream("GET", url, headers=paused_env.headers) as stream:
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: ") and name:
                    events.append((name, json.loads(line[len("data: ") :])))
                    if name in TERMINAL_NAMES:
                        break  # the stream itself stays open with heartbeats
                    stage = events[-1][1]["stage"]
                    if stage == "preparing":  # the claimed state, read from the row
                        queue.progress(claimed.id, claimed.worker_id, 0.5, "transcribing")
                    elif stage == "transcribing":
                        transcript = json.dumps({"text": "elsewhere", "segments": [], "words": []})
                        queue.complete_and_claim(
                            claimed,
                            execution,
                            transcript_json=transcript,
                            language="en",
                            output_path=None,
                        )[0]
    assert [(name, data["stage"]) for name, data in events] == [
        ("transcription.progress", "preparing"),
        ("transcription.progress", "transcribing"),
        ("transcription.completed", "completed"),
    ]
    text = paused_env.client.get(
        f"/api/v1/transcriptions/{job['id']}/transcript?format=txt", headers=paused_env.headers
    ).text
    assert text == "elsewhere\n"


def test_cancel_retry_and_conflicts(env: Env) -> None:
    job = env.create(env.fake_file({"delay_s": 30, "steps": 300}))
    env.wait(job["id"], ("processing",))
    retry_running = env.client.post(
        f"/api/v1/transcriptions/{job['id']}:retry", headers=env.headers
    )
    assert retry_running.status_code == 409

    canceled = env.client.post(f"/api/v1/transcriptions/{job['id']}:cancel", headers=env.headers)
    assert canceled.status_code == 200
    assert canceled.json() == {"id": job["id"], "status": "canceled"}
    assert env.wait(job["id"])["status"] == "canceled"
    again = env.client.post(f"/api/v1/transcriptions/{job['id']}:cancel", headers=env.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"

    retried = env.client.post(f"/api/v1/transcriptions/{job['id']}:retry", headers=env.headers)
    assert retried.status_code == 202
    body = retried.json()
    assert body["status"] == "queued" and body["source_transcription_id"] == job["id"]
    assert body["id"] != job["id"]
    env.client.post(f"/api/v1/transcriptions/{body['id']}:cancel", headers=env.headers)
    assert env.wait(body["id"])["status"] == "canceled"


def test_retry_of_completed_job_creates_a_new_job(env: Env) -> None:
    job = env.create(env.fake_file(), options={"language": "en"})
    env.wait(job["id"])
    retried = env.client.post(f"/api/v1/transcriptions/{job['id']}:retry", headers=env.headers)
    assert retried.status_code == 202
    new = env.wait(retried.json()["id"])
    assert new["status"] == "completed"
    assert new["options"] == env.get(job["id"])["options"]
    assert new["source_transcription_id"] == job["id"]


def test_queued_job_retry_is_409(paused_env: Env) -> None:
    job = paused_env.create(paused_env.fake_file())
    response = paused_env.client.post(
        f"/api/v1/transcriptions/{job['id']}:retry", headers=paused_env.headers
    )
    assert response.status_code == 409


def test_shutdown_answers_503_and_leaves_the_row_queued(stopping_env: Env) -> None:
    paused_env = stopping_env
    assert not paused_env.core.workers.accepting
    file_id = paused_env.fake_file()
    response = paused_env.client.post(
        "/api/v1/transcriptions", json={"file_id": file_id}, headers=paused_env.headers
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    listed = paused_env.client.get("/api/v1/transcriptions", headers=paused_env.headers).json()
    assert [(item["file_id"], item["status"]) for item in listed["items"]] == [(file_id, "queued")]

    submitted = paused_env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        headers=paused_env.headers,
    )
    assert submitted.status_code == 503
    listed = paused_env.client.get("/api/v1/transcriptions", headers=paused_env.headers).json()
    assert [item["status"] for item in listed["items"]] == ["queued", "queued"]


def test_delete_removes_rows_and_every_stored_byte(env: Env) -> None:
    job = env.create(env.fake_file())
    env.wait(job["id"])
    transcript_dir = env.data_dir / "transcripts" / job["id"]
    assert any(transcript_dir.iterdir())
    response = env.client.delete(f"/api/v1/transcriptions/{job['id']}", headers=env.headers)
    assert response.status_code == 204
    assert not transcript_dir.exists()
    assert not (env.data_dir / "jobs" / job["id"]).exists()
    for suffix in ("", "/transcript", "/executions", "/logs"):
        gone = env.client.get(f"/api/v1/transcriptions/{job['id']}{suffix}", headers=env.headers)
        assert gone.status_code == 404


def test_delete_of_running_job_cancels_it_first(env: Env) -> None:
    job = env.create(env.fake_file({"delay_s": 30, "steps": 300}))
    env.wait(job["id"], ("processing",))
    response = env.client.delete(f"/api/v1/transcriptions/{job['id']}", headers=env.headers)
    assert response.status_code == 204
    assert job["id"] not in env.core.workers.running_ids()
    assert not (env.data_dir / "jobs" / job["id"]).exists()
    assert not (env.data_dir / "transcripts" / job["id"]).exists()


def test_patch_renames_and_never_cancels_a_running_job(env: Env) -> None:
    job = env.create(env.fake_file({"delay_s": 30, "steps": 300}))
    env.wait(job["id"], ("processing",))
    response = env.client.patch(
        f"/api/v1/transcriptions/{job['id']}", json={"title": "Renamed"}, headers=env.headers
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"
    assert response.json()["status"] == "processing"
    time.sleep(0.5)
    assert env.wait(job["id"], ("processing",))["title"] == "Renamed"


def test_validation_errors_name_the_field_and_write_nothing(env: Env) -> None:
    file_id = env.fake_file()
    cases: list[tuple[dict[str, Any], int | None, str]] = [
        ({"options": {"model": "no-such-model"}}, 422, "options.model"),
        ({"options": {"min_speakers": 3, "max_speakers": 2}}, 422, "options.min_speakers"),
        ({"options": {"language": "fr"}}, 422, "options.language"),
        ({"profile_id": "profile_missing"}, 422, "profile_id"),
        ({"options": {"diarization": "yes"}}, None, "options.diarization"),
        ({"options": {"unknown": 1}}, None, "options.unknown"),
        ({"options": {"beam_size": 0}}, 422, "options.beam_size"),
        ({"options": {"beam_size": 11}}, 422, "options.beam_size"),
        ({"options": {"temperature": 1.5}}, 422, "options.temperature"),
        ({"options": {"temperature": -0.1}}, 422, "options.temperature"),
        ({"options": {"vad_min_silence_ms": 5}}, 422, "options.vad_min_silence_ms"),
        ({"options": {"hotwords": "x" * 1001}}, 422, "options.hotwords"),
        ({"options": {"vad": "off"}}, None, "options.vad"),
        (
            {"options": {"condition_on_previous_text": 1}},
            None,
            "options.condition_on_previous_text",
        ),
    ]
    for extra, status, field in cases:
        response = env.client.post(
            "/api/v1/transcriptions", json={"file_id": file_id, **extra}, headers=env.headers
        )
        assert response.status_code in ((status,) if status else (400, 422)), extra
        assert response.json()["error"]["field"] == field, response.json()

    missing = env.client.post(
        "/api/v1/transcriptions", json={"file_id": "file_missing"}, headers=env.headers
    )
    assert missing.status_code == 404
    malformed = env.client.post(
        "/api/v1/transcriptions",
        content=b'{"file_id": ',
        headers={**env.headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    listed = env.client.get("/api/v1/transcriptions", headers=env.headers).json()
    assert listed["items"] == []


def test_translate_on_english_only_model_is_422(tmp_path: Path) -> None:
    """The fake models translate; use the real catalog's rule through the options service."""
    from scriberr.engine.base import ModelInfo
    from scriberr.engine.catalog import list_models
    from scriberr.jobs import JobOptions, OptionError

    class Catalog:
        def transcription_models(self) -> list[ModelInfo]:
            return list(list_models(tmp_path, "whisper-tiny.en", "transcription"))

    defaults = JobOptions.defaults("whisper-tiny.en")
    with pytest.raises(OptionError) as raised:
        JobOptions.from_request({"task": "translate"}, defaults=defaults, catalog=Catalog())
    assert raised.value.field == "options.task"
    assert not raised.value.malformed  # 422
    JobOptions.from_request(
        {"task": "translate", "model": "whisper-tiny"}, defaults=defaults, catalog=Catalog()
    )


def test_wrong_owner_gets_404_everywhere(env: Env) -> None:
    job = env.create(env.fake_file())
    env.wait(job["id"])
    _other_id, other = env.second_user()
    base = f"/api/v1/transcriptions/{job['id']}"
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", ":cancel"),
        ("POST", ":retry"),
        ("GET", "/transcript"),
        ("GET", "/audio"),
        ("GET", "/events"),
        ("GET", "/logs"),
        ("GET", "/executions"),
    ]:
        body = {"title": "x"} if method == "PATCH" else None
        response = env.client.request(method, base + path, headers=other, json=body)
        assert response.status_code == 404, (method, path, response.status_code)
    foreign_file = env.client.post(
        "/api/v1/transcriptions", json={"file_id": env.get(job["id"])["file_id"]}, headers=other
    )
    assert foreign_file.status_code == 404
    assert env.get(job["id"])["status"] == "completed"


def test_list_filters_sorts_and_pages(paused_env: Env) -> None:
    ids = [paused_env.create(paused_env.fake_file(), title=f"Talk {n}")["id"] for n in range(5)]
    paused_env.client.post(f"/api/v1/transcriptions/{ids[0]}:cancel", headers=paused_env.headers)

    def listed(query: str) -> dict:
        response = paused_env.client.get(
            f"/api/v1/transcriptions{query}", headers=paused_env.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    seen: list[str] = []
    cursor = None
    while True:
        page = listed("?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert [i["id"] for i in listed("?status=canceled")["items"]] == [ids[0]]
    assert len(listed("?status=queued")["items"]) == 4
    assert [i["title"] for i in listed("?q=talk%203")["items"]] == ["Talk 3"]
    assert [i["title"] for i in listed("?sort=title&limit=200")["items"]] == [
        f"Talk {n}" for n in range(5)
    ]
    titles: list[str] = []
    cursor = None
    while True:
        page = listed("?sort=-title&limit=3" + (f"&cursor={cursor}" if cursor else ""))
        titles += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert titles == [f"Talk {n}" for n in reversed(range(5))]
    assert listed("?limit=100000")["next_cursor"] is None
    assert (
        paused_env.client.get(
            "/api/v1/transcriptions?sort=bogus", headers=paused_env.headers
        ).status_code
        == 400
    )
    assert (
        paused_env.client.get(
            "/api/v1/transcriptions?status=bogus", headers=paused_env.headers
        ).status_code
        == 400
    )
    later = listed("?updated_after=2999-01-01T00:00:00Z")
    assert later["items"] == []


def test_executions_and_logs_of_every_attempt(env: Env) -> None:
    job = env.create(
        env.fake_file({"fail": "engine", "message": "cannot decode /srv/secret/x.wav"})
    )
    failed = env.wait(job["id"])
    assert failed["status"] == "failed"
    assert failed["failed_at"].endswith("Z")
    assert "/srv/secret" not in (failed["error"] or "")

    executions = env.client.get(
        f"/api/v1/transcriptions/{job['id']}/executions", headers=env.headers
    ).json()
    assert executions["next_cursor"] is None
    [execution] = executions["items"]
    assert execution["id"].startswith("exec_")
    assert execution["transcription_id"] == job["id"]
    assert execution["status"] == "failed"
    assert execution["provider"] == "fake" and execution["model"] == "fake-model"
    assert execution["failed_at"].endswith("Z")
    assert "/srv/secret" not in (execution["error"] or "")
    assert execution["host"] == socket.gethostname()
    assert execution["worker_id"] == f"{env.core.workers.process_id}/0"
    assert set(execution) == {
        "id",
        "transcription_id",
        "status",
        "worker_id",
        "host",
        "provider",
        "model",
        "started_at",
        "completed_at",
        "failed_at",
        "processing_duration_ms",
        "error",
    }

    logs = env.client.get(f"/api/v1/transcriptions/{job['id']}/logs", headers=env.headers)
    assert logs.status_code == 200
    assert logs.headers["content-type"].startswith("text/plain")
    lines = logs.text.strip().splitlines()
    assert len(lines) >= 2
    assert all(line[:4].isdigit() and "Z " in line for line in lines)
    # every line names the host and worker that wrote it
    worker = f"[{socket.gethostname()} {env.core.workers.process_id}/0] "
    assert all(worker in line for line in lines), lines
    assert str(env.data_dir) not in logs.text and "/srv/secret" not in logs.text


def test_audio_alias_supports_ranges(env: Env) -> None:
    job = env.create(env.fake_file({"text": "x"}))
    base = f"/api/v1/transcriptions/{job['id']}/audio"
    whole = env.client.get(base, headers=env.headers)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    part = env.client.get(base, headers={**env.headers, "Range": "bytes=0-3"})
    assert part.status_code == 206
    assert part.content == whole.content[:4]
    assert part.headers["content-range"] == f"bytes 0-3/{len(whole.content)}"
    bad = env.client.get(base, headers={**env.headers, "Range": "bytes=99999-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == f"bytes */{len(whole.content)}"


def test_submit_uploads_and_enqueues(env: Env) -> None:
    response = env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data={"title": "Submitted", "options": '{"language": "en"}'},
        headers=env.headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["title"] == "Submitted" and body["options"]["language"] == "en"
    assert env.wait(body["id"])["status"] == "completed"
    file = env.client.get(f"/api/v1/files/{body['file_id']}", headers=env.headers)
    assert file.status_code == 200


@pytest.mark.parametrize(
    ("options", "status", "field"),
    [
        ("{not json", 400, "options"),
        ('{"model": "nope"}', 422, "options.model"),
        ('["a"]', 400, "options"),
    ],
)
def test_submit_validation_leaves_no_file_behind(
    env: Env, options: str, status: int, field: str
) -> None:
    response = env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data={"options": options},
        headers=env.headers,
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert env.client.get("/api/v1/files", headers=env.headers).json()["items"] == []
    uploads = env.data_dir / "uploads"
    leftovers = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
    assert leftovers == []


def test_submit_of_text_file_is_415_with_nothing_left(env: Env) -> None:
    response = env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("notes.mp3", b"just some text, not audio at all\n" * 20, "audio/mpeg")},
        headers=env.headers,
    )
    assert response.status_code == 415
    uploads = env.data_dir / "uploads"
    assert [p for p in uploads.rglob("*") if p.is_file()] == []


def test_idempotency_key_replays_the_first_create(env: Env) -> None:
    file_id = env.fake_file()
    headers = {**env.headers, "Idempotency-Key": "create-1"}
    first = env.client.post("/api/v1/transcriptions", json={"file_id": file_id}, headers=headers)
    second = env.client.post("/api/v1/transcriptions", json={"file_id": file_id}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    listed = env.client.get("/api/v1/transcriptions", headers=env.headers).json()
    assert len(listed["items"]) == 1


def test_admin_queue_counts_the_callers_jobs(paused_env: Env) -> None:
    a = paused_env.create(paused_env.fake_file())
    paused_env.create(paused_env.fake_file())
    paused_env.client.post(f"/api/v1/transcriptions/{a['id']}:cancel", headers=paused_env.headers)
    stats = paused_env.client.get("/api/v1/admin/queue", headers=paused_env.headers).json()
    assert stats == {
        "queued": 1,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "canceled": 1,
        "running": 0,
    }


def test_model_catalog_routes(env: Env) -> None:
    models = env.client.get("/api/v1/models/transcription", headers=env.headers).json()["items"]
    assert [m["id"] for m in models] == ["fake-model", "fake-model-2"]
    assert set(models[0]) == {
        "id",
        "name",
        "provider",
        "installed",
        "default",
        "capabilities",
        "languages",
        "size_mb",
    }
    diarization = env.client.get("/api/v1/models/diarization", headers=env.headers).json()
    assert diarization["items"][0]["id"] == "fake-diarization"


def test_routes_need_credentials(env: Env) -> None:
    for method, path in [
        ("GET", "/api/v1/transcriptions"),
        ("POST", "/api/v1/transcriptions"),
        ("POST", "/api/v1/transcriptions:submit"),
        ("GET", "/api/v1/transcriptions/tr_x"),
        ("GET", "/api/v1/transcriptions/tr_x/events"),
        ("GET", "/api/v1/transcriptions/tr_x/audio"),
        ("GET", "/api/v1/profiles"),
        ("GET", "/api/v1/models/transcription"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/admin/queue"),
        ("POST", "/v1/audio/transcriptions"),
    ]:
        response = env.client.request(method, path)
        assert response.status_code == 401, (method, path)


def test_slow_fake_script_is_default(tmp_path: Path) -> None:
    """Submit path uses the provider's default script (the WAV is not a fake script)."""
    with make_env(tmp_path, FakeScript(text="default script")) as built:
        response = built.client.post(
            "/api/v1/transcriptions:submit",
            files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
            headers=built.headers,
        )
        job = built.wait(response.json()["id"])
        assert job["status"] == "completed"
        text = built.client.get(
            f"/api/v1/transcriptions/{job['id']}/transcript?format=txt", headers=built.headers
        ).text
        assert text == "default script\n"


def test_decoding_controls_are_stored_and_profiles_carry_them(env: Env) -> None:
    decoding = {
        "hotwords": "Siobhan, Kubernetes",
        "beam_size": 3,
        "temperature": 0.2,
        "vad": False,
        "vad_min_silence_ms": 800,
        "condition_on_previous_text": False,
    }
    profile = env.client.post(
        "/api/v1/profiles",
        json={"name": "Careful", "options": {"beam_size": 8, "hotwords": "Scriberr"}},
        headers=env.headers,
    )
    assert profile.status_code == 201, profile.text
    job = env.create(env.fake_file(), options=decoding)
    assert {key: job["options"][key] for key in decoding} == decoding
    from_profile = env.create(
        env.fake_file(), profile_id=profile.json()["id"], options={"temperature": 0.5}
    )
    assert from_profile["options"]["beam_size"] == 8
    assert from_profile["options"]["hotwords"] == "Scriberr"
    assert from_profile["options"]["temperature"] == 0.5
    assert from_profile["options"]["vad"] is True
