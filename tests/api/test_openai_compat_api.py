"""`POST /v1/audio/transcriptions` on the fake engine: formats, model mapping, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scriberr.engine.fake import FakeScript

from .jobs_support import SAMPLE_WAV, Env, make_env

TEXT = "Ask not what your country can do for you."


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path, FakeScript(text=TEXT, duration=4.0)) as built:
        yield built


def _transcribe(env: Env, **fields: Any) -> Any:
    data = {"model": "whisper-1", **fields}
    return env.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data=data,
        headers=env.headers,
    )


def test_json_is_the_default_format(env: Env) -> None:
    response = _transcribe(env)
    assert response.status_code == 200, response.text
    assert response.json() == {"text": TEXT}
    jobs = env.client.get("/api/v1/transcriptions?origin=openai", headers=env.headers).json()[
        "items"
    ]
    assert [(j["status"], j["options"]["model"]) for j in jobs] == [("completed", "fake-model")]


def test_text_srt_vtt(env: Env) -> None:
    text = _transcribe(env, response_format="text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == TEXT + "\n"
    srt = _transcribe(env, response_format="srt").text
    assert srt.startswith("1\n00:00:00,000 --> ") and TEXT in srt
    vtt = _transcribe(env, response_format="vtt").text
    assert vtt.startswith("WEBVTT\n") and "00:00:00.000 --> " in vtt


def test_verbose_json_with_granularities(env: Env) -> None:
    body = _transcribe(env, response_format="verbose_json").json()
    assert body["task"] == "transcribe" and body["language"] == "en"
    assert body["duration"] == 4.0 and body["text"] == TEXT
    assert body["segments"][0]["id"] == 0 and body["segments"][0]["text"].strip() == TEXT
    assert "words" not in body

    response = env.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data={
            "model": "fake-model-2",
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        },
        headers=env.headers,
    )
    both = response.json()
    assert [w["word"].strip() for w in both["words"]] == TEXT.split()
    assert all(set(w) == {"word", "start", "end"} for w in both["words"])
    assert both["segments"]
    jobs = env.client.get("/api/v1/transcriptions?origin=openai", headers=env.headers).json()[
        "items"
    ]
    assert jobs[0]["options"]["model"] == "fake-model-2"


def test_unknown_model_and_bad_format_leave_nothing(env: Env) -> None:
    unknown = _transcribe(env, model="gpt-9")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["param"] == "model"
    bad_format = _transcribe(env, response_format="xml")
    assert bad_format.status_code == 400
    assert bad_format.json()["error"]["param"] == "response_format"
    assert env.client.get("/api/v1/files?origin=all", headers=env.headers).json()["items"] == []
    assert (
        env.client.get("/api/v1/transcriptions?origin=all", headers=env.headers).json()["items"]
        == []
    )


def test_failed_job_answers_422_with_a_clean_message(tmp_path: Path) -> None:
    script = FakeScript(fail="engine", message="could not decode the audio")
    with make_env(tmp_path, script) as built:
        response = _transcribe(built)
        assert response.status_code == 422
        assert "could not decode the audio" in response.json()["error"]["message"]


def test_api_key_as_bearer_works(env: Env) -> None:
    key = env.client.post("/api/v1/api-keys", json={"name": "sdk"}, headers=env.headers).json()
    response = env.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data={"model": "whisper-1", "response_format": "text"},
        headers={"Authorization": f"Bearer {key['key']}"},
    )
    assert response.status_code == 200 and response.text == TEXT + "\n"


def test_client_disconnect_cancels_the_job(tmp_path: Path) -> None:
    import httpx

    from scriberr.api.app import create_app

    from .jobs_support import serve_in_thread

    with (
        make_env(tmp_path, FakeScript(delay_s=60, steps=600)) as built,
        serve_in_thread(create_app(built.core)) as base,
    ):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                base + "/v1/audio/transcriptions",
                files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
                data={"model": "whisper-1"},
                headers=built.headers,
                timeout=httpx.Timeout(10, read=1.5),
            )
        jobs = built.client.get(
            "/api/v1/transcriptions?origin=openai", headers=built.headers
        ).json()
        assert len(jobs["items"]) == 1
        assert built.wait(jobs["items"][0]["id"])["status"] == "canceled"


def test_temperature_becomes_a_job_option_and_is_validated(env: Env) -> None:
    assert _transcribe(env, temperature="0.4").status_code == 200
    jobs = env.client.get("/api/v1/transcriptions?origin=openai", headers=env.headers).json()[
        "items"
    ]
    assert jobs[0]["options"]["temperature"] == 0.4
    too_hot = _transcribe(env, temperature="1.7")
    assert too_hot.status_code == 422
    assert too_hot.json()["error"]["param"] == "temperature"
    assert _transcribe(env, temperature="warm").status_code == 400


@pytest.mark.slow
def test_v1_files_are_kept_out_of_the_library_and_deleted_after_retention(
    tmp_path: Path,
) -> None:
    import time

    with make_env(tmp_path, FakeScript(text=TEXT), SCRIBERR_OPENAI_RETENTION="2s") as env:
        own = env.client.post(
            "/api/v1/transcriptions:submit",
            files={"file": ("mine.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
            headers=env.headers,
        )
        assert own.status_code == 202, own.text
        assert _transcribe(env).json() == {"text": TEXT}

        def listed(path: str, **params: str) -> list[str]:
            response = env.client.get(path, params=params, headers=env.headers)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        library_files = listed("/api/v1/files")
        library_jobs = listed("/api/v1/transcriptions")
        assert len(library_files) == 1 and library_jobs == [own.json()["id"]]
        openai_files = listed("/api/v1/files", origin="openai")
        openai_jobs = listed("/api/v1/transcriptions", origin="openai")
        assert len(openai_files) == 1 and len(openai_jobs) == 1
        assert len(listed("/api/v1/files", origin="all")) == 2
        assert (
            env.client.get("/api/v1/files?origin=elsewhere", headers=env.headers).status_code == 400
        )
        uploads = env.data_dir / "uploads"
        assert (uploads / openai_files[0]).is_dir()

        deadline = time.monotonic() + 20
        while listed("/api/v1/files", origin="openai") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert listed("/api/v1/files", origin="openai") == []
        assert listed("/api/v1/transcriptions", origin="all") == [own.json()["id"]]
        assert not (uploads / openai_files[0]).exists()
        assert not (env.data_dir / "transcripts" / openai_jobs[0]).exists()
        assert listed("/api/v1/files") == library_files
