"""The official `openai` package against a real HTTP server (fake engine): translations, models,
streaming, `diarized_json`, confidence in `verbose_json`, and OpenAI's error shape on `/v1`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scriberr.engine.fake import FakeScript

from .jobs_support import SAMPLE_WAV, Env, make_env, serve_in_thread

TEXT = "Ask not what your country can do for you. Ask what you can do for your country."


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Env, Any]]:
    from openai import OpenAI

    from scriberr.api.app import create_app

    with (
        make_env(tmp_path, FakeScript(text=TEXT, duration=8.0, speakers=2)) as env,
        serve_in_thread(create_app(env.core)) as base,
    ):
        key = env.client.post("/api/v1/api-keys", json={"name": "sdk"}, headers=env.headers)
        client = OpenAI(base_url=f"{base}/v1", api_key=key.json()["key"], max_retries=0)
        yield env, client


def _jobs(env: Env) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = env.client.get(
        "/api/v1/transcriptions?origin=openai", headers=env.headers
    ).json()["items"]
    return items


def test_models_list_and_retrieve(served: tuple[Env, Any]) -> None:
    _, client = served
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "whisper-1"
    assert {"fake-model", "fake-model-2"} <= set(ids)
    assert client.models.retrieve("fake-model-2").id == "fake-model-2"
    assert client.models.retrieve("whisper-1").owned_by == "scriberr"

    import openai

    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-9")
    error = missing.value.body
    assert isinstance(error, dict)
    assert error["type"] == "not_found_error" and error["param"] == "model"
    assert "gpt-9" in error["message"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_translation_runs_a_translate_job(served: tuple[Env, Any]) -> None:
    env, client = served
    with SAMPLE_WAV.open("rb") as audio:
        result = client.audio.translations.create(model="whisper-1", file=audio)
    assert result.text == TEXT
    with SAMPLE_WAV.open("rb") as audio:
        verbose = client.audio.translations.create(
            model="fake-model-2", file=audio, response_format="verbose_json"
        )
    assert verbose.text == TEXT
    assert [job["options"]["task"] for job in _jobs(env)] == ["translate", "translate"]


def test_streaming_yields_deltas_then_done(served: tuple[Env, Any]) -> None:
    _, client = served
    with SAMPLE_WAV.open("rb") as audio:
        stream = client.audio.transcriptions.create(model="whisper-1", file=audio, stream=True)
        events = list(stream)
    types = [event.type for event in events]
    assert types[-1] == "transcript.text.done"
    assert types[:-1] and set(types[:-1]) == {"transcript.text.delta"}
    joined = "".join(event.delta for event in events[:-1])
    assert joined == events[-1].text == TEXT


def test_diarized_json_names_speakers_in_order_of_appearance(served: tuple[Env, Any]) -> None:
    env, client = served
    with SAMPLE_WAV.open("rb") as audio:
        lettered = client.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize", file=audio, response_format="diarized_json"
        )
    speakers = [segment.speaker for segment in lettered.segments]
    assert speakers[0] == "A" and set(speakers) == {"A", "B"}
    assert lettered.text == TEXT and lettered.duration == 8.0

    with SAMPLE_WAV.open("rb") as audio:
        named = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="diarized_json",
            known_speaker_names=["Alice", "Bob"],
        )
    assert [s.speaker for s in named.segments] == [
        {"A": "Alice", "B": "Bob"}[label] for label in speakers
    ]
    assert all(job["options"]["diarization"] for job in _jobs(env))


def test_errors_have_openai_shape_and_leave_nothing(served: tuple[Env, Any]) -> None:
    import openai

    env, client = served
    with SAMPLE_WAV.open("rb") as audio, pytest.raises(openai.UnprocessableEntityError) as bad:
        client.audio.transcriptions.create(model="gpt-9", file=audio)
    assert bad.value.body == {
        "message": bad.value.body["message"],  # type: ignore[index]
        "type": "invalid_request_error",
        "param": "model",
        "code": "UNPROCESSABLE",
        "request_id": bad.value.body["request_id"],  # type: ignore[index]
    }
    with SAMPLE_WAV.open("rb") as audio, pytest.raises(openai.BadRequestError) as streamed:
        client.audio.transcriptions.create(
            model="whisper-1", file=audio, stream=True, response_format="srt"
        )
    assert streamed.value.body["param"] == "response_format"  # type: ignore[index]
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        openai.OpenAI(
            base_url=str(client.base_url), api_key="sk_wrong", max_retries=0
        ).models.list()
    assert unauthorized.value.body["type"] == "authentication_error"  # type: ignore[index]
    assert env.client.get("/api/v1/files?origin=all", headers=env.headers).json()["items"] == []
    # Scriberr's own routes keep Scriberr's envelope.
    own = env.client.get("/api/v1/transcriptions/tr_missing", headers=env.headers).json()
    assert set(own["error"]) == {"code", "message", "field", "request_id"}
