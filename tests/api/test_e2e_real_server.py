"""End to end against a real `scriberr serve` process on a free port with the real speech engine
(the bundled whisper-tiny.en) and the real JFK recording; plus the official `openai` package
pointed at the same server.

No response body anywhere in this test may contain the data directory path.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import start_serve

pytestmark = [pytest.mark.engine, pytest.mark.e2e, pytest.mark.slow]

JFK = (
    Path(__file__).resolve().parent
    / ".."
    / ".."
    / ".."
    / "shared"
    / "fixtures"
    / "audio"
    / "jfk.flac"
).resolve()
PASSWORD = "correct horse battery staple"
KEY_PHRASE = "ask not what your country can do for you"


@dataclass
class Server:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    bodies: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> httpx.Response:
        self.bodies.append(response.text)
        return response


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_serve(tmp_path_factory.mktemp("e2e") / "data")
    try:
        yield Server(running.base_url, running.data_dir, running.process)
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api_key(server: Server) -> str:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        registered = server.record(
            http.post(
                "/api/v1/auth/register",
                json={"username": "jfk", "password": PASSWORD, "confirm_password": PASSWORD},
            )
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["access_token"]
        created = server.record(
            http.post(
                "/api/v1/api-keys",
                json={"name": "e2e"},
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        assert key.startswith("sk_")
        return key


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())


_TERMINAL_EVENTS = ("transcription.completed", "transcription.failed", "transcription.canceled")


def _follow(
    server: Server, http: httpx.Client, transcription_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """Read the job's SSE stream up to its terminal event; returns (event, data) pairs."""
    events: list[tuple[str, dict[str, Any]]] = []
    raw: list[str] = []
    with http.stream(
        "GET", f"/api/v1/transcriptions/{transcription_id}/events", timeout=httpx.Timeout(300)
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name: str | None = None
        for line in stream.iter_lines():
            raw.append(line)
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: ") and name is not None:
                events.append((name, json.loads(line[len("data: ") :])))
                if name in _TERMINAL_EVENTS:
                    break  # the stream stays open (heartbeats) until the client leaves
                name = None
    server.bodies.append("\n".join(raw))
    return events


def test_full_job_lifecycle_against_a_real_server(server: Server, api_key: str) -> None:
    audio = JFK.read_bytes()
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        uploaded = server.record(
            http.post("/api/v1/files", files={"file": ("jfk.flac", audio, "audio/flac")})
        )
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["id"]

        created = server.record(
            http.post("/api/v1/transcriptions", json={"file_id": file_id, "title": "JFK"})
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued" and job["options"]["model"] == "whisper-tiny.en"

        events = _follow(server, http, job["id"])
        names = [name for name, _ in events]
        assert names[-1] == "transcription.completed", events
        assert names.count("transcription.completed") == 1
        assert set(names[:-1]) <= {"transcription.progress", "transcription.segment"}
        stages = [data["stage"] for name, data in events if name == "transcription.progress"]
        assert "transcribing" in stages or "saving" in stages
        partial = [data for name, data in events if name == "transcription.segment"]
        assert [data["index"] for data in partial] == list(range(len(partial)))

        finished = server.record(http.get(f"/api/v1/transcriptions/{job['id']}")).json()
        assert finished["status"] == "completed" and finished["progress"] == 1.0

        transcript = server.record(http.get(f"/api/v1/transcriptions/{job['id']}/transcript"))
        body = transcript.json()
        assert KEY_PHRASE in _words(body["text"])
        if partial:  # the live segments are the engine's, as the final transcript has them
            joined = " ".join(data["segment"]["text"].strip() for data in partial)
            assert _words(joined) == _words(body["text"])
        assert body["language"] == "en"
        assert body["segments"] and body["words"]
        assert all(w["end"] >= w["start"] for w in body["words"])

        exports = {}
        for fmt in ("txt", "srt", "vtt", "json"):
            response = server.record(
                http.get(f"/api/v1/transcriptions/{job['id']}/transcript", params={"format": fmt})
            )
            assert response.status_code == 200, (fmt, response.text)
            exports[fmt] = response.text
        assert KEY_PHRASE in _words(exports["txt"])
        assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", exports["srt"])
        assert exports["vtt"].startswith("WEBVTT\n")
        assert re.search(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", exports["vtt"])
        assert KEY_PHRASE in _words(json.loads(exports["json"])["text"])

        ranged = http.get(
            f"/api/v1/transcriptions/{job['id']}/audio", headers={"Range": "bytes=100-1123"}
        )
        assert ranged.status_code == 206
        assert ranged.content == audio[100:1124]
        assert ranged.headers["content-range"] == f"bytes 100-1123/{len(audio)}"
        assert ranged.headers["accept-ranges"] == "bytes"

        retried = server.record(http.post(f"/api/v1/transcriptions/{job['id']}:retry"))
        assert retried.status_code == 202, retried.text
        again = retried.json()
        assert again["source_transcription_id"] == job["id"] and again["status"] == "queued"
        assert _follow(server, http, again["id"])[-1][0] == "transcription.completed"

        executions = server.record(http.get(f"/api/v1/transcriptions/{job['id']}/executions"))
        assert [e["status"] for e in executions.json()["items"]] == ["completed"]
        assert executions.json()["items"][0]["provider"] == "local"
        logs = server.record(http.get(f"/api/v1/transcriptions/{job['id']}/logs"))
        assert logs.status_code == 200 and logs.text.strip()

        for transcription_id in (job["id"], again["id"]):
            deleted = http.delete(f"/api/v1/transcriptions/{transcription_id}")
            assert deleted.status_code == 204
            assert not (server.data_dir / "transcripts" / transcription_id).exists()
            assert not (server.data_dir / "jobs" / transcription_id).exists()
            gone = server.record(http.get(f"/api/v1/transcriptions/{transcription_id}"))
            assert gone.status_code == 404


def test_openai_sdk_transcribes_jfk(server: Server, api_key: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.base_url}/v1", api_key=api_key, timeout=300, max_retries=0)

    with JFK.open("rb") as audio:
        as_json = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert KEY_PHRASE in _words(as_json.text)

    with JFK.open("rb") as audio:
        as_text = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="text"
        )
    assert isinstance(as_text, str) and KEY_PHRASE in _words(as_text)

    with JFK.open("rb") as audio:
        as_srt = client.audio.transcriptions.create(
            model="whisper-tiny.en", file=audio, response_format="srt"
        )
    assert isinstance(as_srt, str)
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> ", as_srt)

    with JFK.open("rb") as audio:
        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            language="en",
        )
    assert KEY_PHRASE in _words(verbose.text)
    assert verbose.language == "en" and verbose.duration > 10
    assert verbose.segments and verbose.segments[0].end > verbose.segments[0].start
    assert verbose.words and {"ask", "country"} <= {_words(w.word) for w in verbose.words}
    server.bodies += [as_json.text, as_text, as_srt, verbose.model_dump_json()]


def test_corrupt_mp3_job_fails_cleanly(server: Server, api_key: str, tmp_path: Path) -> None:
    import av
    import numpy as np

    mp3 = tmp_path / "talk.mp3"
    with av.open(str(mp3), mode="w") as container:  # 5 s of a tone, then noise over the frames
        stream = container.add_stream("mp3", rate=16000)
        stream.layout = "mono"
        tone = np.sin(np.linspace(0, 2 * np.pi * 440 * 5, 16000 * 5)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=16000, frame_size=1152)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    data = bytearray(mp3.read_bytes())
    data[2048:] = bytes((index * 131 + 7) % 256 for index in range(len(data) - 2048))
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        submitted = server.record(
            http.post(
                "/api/v1/transcriptions:submit",
                files={"file": ("talk.mp3", bytes(data), "audio/mpeg")},
            )
        )
        # The intact first frames pass the upload probe; the damage shows when the job decodes.
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        events = _follow(server, http, job_id)
        assert events[-1][0] == "transcription.failed", events
        job = server.record(http.get(f"/api/v1/transcriptions/{job_id}")).json()
        assert job["status"] == "failed"
        assert job["error"] == "the file is damaged: most of its audio could not be decoded"
        executions = server.record(http.get(f"/api/v1/transcriptions/{job_id}/executions"))
        assert [e["status"] for e in executions.json()["items"]] == ["failed"]
        transcript = server.record(http.get(f"/api/v1/transcriptions/{job_id}/transcript"))
        assert transcript.status_code == 409
    assert not (server.data_dir / "transcripts" / job_id).exists()
    assert not (server.data_dir / "jobs" / job_id).exists()


def test_no_response_body_contains_the_data_dir(server: Server) -> None:
    """Runs last in this module: every body recorded above (JSON, exports, SSE, SDK results)."""
    assert len(server.bodies) > 20
    for body in server.bodies:
        assert str(server.data_dir) not in body
        assert str(server.data_dir.parent) not in body
