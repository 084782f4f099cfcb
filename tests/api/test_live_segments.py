"""Live partial transcripts on the per-job event stream (fake engine that decodes slowly, real
HTTP server): segments arrive before completion and in order, their text is the transcript's,
`Last-Event-ID` resumes without gaps or duplicates, a late client first gets what exists, jobs
run by another process (another broker) are streamed from the database, and the official
`openai` package sees deltas before the job completes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scriberr.api.app import create_app
from scriberr.clock import utcnow
from scriberr.config import load_config
from scriberr.engine.fake import FakeProvider, FakeScript
from scriberr.engine.registry import ProviderRegistry
from scriberr.persistence.segment_repository import SegmentRepository
from tests.support.cores import test_core

from .jobs_support import SAMPLE_WAV, Env, make_env, serve_in_thread

TEXT = (
    "Ask not what your country can do for you. Ask what you can do for your country. "
    "My fellow citizens of the world, ask not what America will do for you."
)
PIECES = 6
SLOW = {"delay_s": 3.0, "steps": PIECES, "pieces": PIECES, "text": TEXT}
Frame = tuple[str, dict[str, Any], str | None]
TERMINAL_EVENTS = ("transcription.completed", "transcription.failed", "transcription.canceled")


def frames(stream: httpx.Response) -> Iterator[Frame]:
    """(event, data, id) for each SSE frame as it arrives, up to the terminal event (the stream
    itself stays open with heartbeats)."""
    block: dict[str, str] = {}
    for line in stream.iter_lines():
        if line.startswith(("id: ", "event: ", "data: ")):
            key, _, value = line.partition(": ")
            block[key] = value
        elif line == "" and "event" in block:
            yield block["event"], json.loads(block["data"]), block.get("id")
            if block["event"] in TERMINAL_EVENTS:
                return
            block = {}


def events_url(job_id: str) -> str:
    return f"/api/v1/transcriptions/{job_id}/events"


def transcript_text(env: Env, job_id: str) -> str:
    response = env.client.get(f"/api/v1/transcriptions/{job_id}/transcript", headers=env.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def segment_texts(seen: list[Frame]) -> list[str]:
    return [data["segment"]["text"] for name, data, _ in seen if name == "transcription.segment"]


def indexes(seen: list[Frame]) -> list[int]:
    return [data["index"] for name, data, _ in seen if name == "transcription.segment"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path) as env:
        yield env


@pytest.mark.slow
def test_segments_stream_before_completion_in_order(env: Env) -> None:
    job = env.create(env.fake_file(SLOW))
    seen: list[Frame] = []
    status_at_first_segment = None
    with (
        serve_in_thread(create_app(env.core)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
        http.stream("GET", events_url(job["id"]), headers=env.headers) as stream,
    ):
        for frame in frames(stream):
            seen.append(frame)
            if frame[0] == "transcription.segment" and status_at_first_segment is None:
                status_at_first_segment = env.get(job["id"])["status"]
    assert status_at_first_segment == "processing"
    names = [name for name, _, _ in seen]
    assert names[-1] == "transcription.completed"
    assert names.index("transcription.segment") < names.index("transcription.completed")
    assert indexes(seen) == list(range(PIECES))
    segment = next(data for name, data, _ in seen if name == "transcription.segment")
    assert segment["id"] == job["id"]
    assert set(segment["segment"]) >= {"id", "start", "end", "text", "words"}
    assert "speaker" not in segment["segment"]
    assert segment["segment"]["id"] == "seg_000001" and segment["segment"]["words"]
    assert " ".join(segment_texts(seen)) == transcript_text(env, job["id"]) == TEXT
    assert all(event_id for _, _, event_id in seen)
    segment_ids = [event_id for name, _, event_id in seen if name == "transcription.segment"]
    execution = env.client.get(
        f"/api/v1/transcriptions/{job['id']}/executions", headers=env.headers
    ).json()["items"][0]["id"]
    assert segment_ids == [f"{execution}:{n}" for n in range(1, PIECES + 1)]
    # kept for a grace period after completion (streams elsewhere poll), gone with the job
    assert len(env.core.transcriptions.partial_segments(job["id"])) == PIECES
    segments = SegmentRepository(env.core.database)
    assert segments.clear_finished(utcnow() - timedelta(seconds=60)) == 0
    other = env.create(env.fake_file({"text": TEXT, "pieces": 2}))
    env.wait(other["id"])
    assert len(env.core.transcriptions.partial_segments(other["id"])) == 2
    response = env.client.delete(f"/api/v1/transcriptions/{other['id']}", headers=env.headers)
    assert response.status_code == 204
    assert env.core.transcriptions.partial_segments(other["id"]) == []
    assert segments.clear_finished(utcnow() + timedelta(seconds=1)) == PIECES
    assert env.core.transcriptions.partial_segments(job["id"]) == []


@pytest.mark.slow
def test_reconnect_with_last_event_id_misses_and_repeats_nothing(env: Env) -> None:
    job = env.create(env.fake_file(SLOW))
    first: list[Frame] = []
    second: list[Frame] = []
    with (
        serve_in_thread(create_app(env.core)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        with http.stream("GET", events_url(job["id"]), headers=env.headers) as stream:
            for frame in frames(stream):
                first.append(frame)
                if len(indexes(first)) == 2:
                    break  # the client drops the connection mid-job
        last_id = first[-1][2]
        assert last_id is not None
        headers = {**env.headers, "Last-Event-ID": last_id}
        with http.stream("GET", events_url(job["id"]), headers=headers) as stream:
            second = list(frames(stream))
    assert indexes(first) == [0, 1]
    assert indexes(second) == list(range(2, PIECES))
    assert second[-1][0] == "transcription.completed"
    assert " ".join(segment_texts(first) + segment_texts(second)) == TEXT


@pytest.mark.slow
def test_a_late_client_first_receives_the_segments_so_far(env: Env) -> None:
    job = env.create(env.fake_file(SLOW))
    with (
        serve_in_thread(create_app(env.core)) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        with http.stream("GET", events_url(job["id"]), headers=env.headers) as stream:
            for frame in frames(stream):
                if frame[0] == "transcription.segment" and frame[1]["index"] == 2:
                    break
        with http.stream("GET", events_url(job["id"]), headers=env.headers) as stream:
            late = list(frames(stream))
    names = [name for name, _, _ in late]
    assert names[:3] == ["transcription.segment"] * 3, names
    assert indexes(late) == list(range(PIECES))
    assert " ".join(segment_texts(late)) == TEXT


@pytest.mark.slow
def test_segments_of_a_job_run_by_another_process_are_streamed(tmp_path: Path) -> None:
    """The API's core never starts workers; a second core on the same database (its own broker,
    as a `scriberr worker` process has) runs the job."""
    with make_env(tmp_path, start=False) as api:
        job = api.create(api.fake_file(SLOW))
        config = load_config(
            {
                "SCRIBERR_DATA_DIR": str(api.data_dir),
                "SCRIBERR_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnop",
                "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "200ms",
                "SPEECH_ENGINE_DEFAULT_MODEL": "fake-model",
                "SCRIBERR_LOG_LEVEL": "warning",
            }
        )
        registry = ProviderRegistry([FakeProvider(FakeScript())], default_model="fake-model")
        worker = test_core(config, providers=registry)
        seen: list[Frame] = []
        try:
            with (
                serve_in_thread(create_app(api.core)) as base,
                httpx.Client(base_url=base, timeout=30) as http,
                http.stream("GET", events_url(job["id"]), headers=api.headers) as stream,
            ):
                worker.start()
                seen = list(frames(stream))
        finally:
            worker.close(timeout=5)
        assert api.core.broker is not worker.broker
        assert indexes(seen) == list(range(PIECES))
        assert seen[-1][0] == "transcription.completed"
        assert " ".join(segment_texts(seen)) == transcript_text(api, job["id"])


@pytest.mark.slow
def test_openai_stream_yields_deltas_before_the_job_completes(tmp_path: Path) -> None:
    from openai import OpenAI

    script = FakeScript(text=TEXT, delay_s=3.0, steps=PIECES, pieces=PIECES)
    with make_env(tmp_path, script) as env, serve_in_thread(create_app(env.core)) as base:
        key = env.client.post("/api/v1/api-keys", json={"name": "sdk"}, headers=env.headers)
        client = OpenAI(base_url=f"{base}/v1", api_key=key.json()["key"], max_retries=0)
        statuses: list[str] = []
        deltas: list[str] = []
        with SAMPLE_WAV.open("rb") as audio:
            stream = client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True)
            for event in stream:
                if event.type == "transcript.text.delta":
                    jobs = env.client.get(
                        "/api/v1/transcriptions?origin=openai", headers=env.headers
                    ).json()["items"]
                    statuses.append(jobs[0]["status"])
                    deltas.append(event.delta)
                else:
                    done = event
    assert done.type == "transcript.text.done" and done.text == TEXT
    assert len(deltas) == PIECES and "".join(deltas).strip() == TEXT
    assert statuses[0] == "processing"
