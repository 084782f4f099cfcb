"""The official `openai` package against the real engine through a real HTTP server:
translations with the multilingual whisper-base (installed from the test-only packages),
`diarized_json` with two speakers on sample.wav, and real confidence in `verbose_json`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.multilingual import GERMAN, WHISPER_BASE, real_registry, speak

from .conftest import SAMPLE, create_api_key, register
from .jobs_support import serve_in_thread

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture
def sdk(make_core: Callable[..., Any], whisper_base_cache: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient
    from openai import OpenAI

    from scriberr.api.app import create_app

    app = create_app(make_core(providers=real_registry(whisper_base_cache)))
    with TestClient(app) as client, serve_in_thread(app) as base:
        key = create_api_key(client, register(client))["key"]
        yield OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=600)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_translations_create_translates_german_to_english(sdk: Any, tmp_path: Path) -> None:
    clip = speak(GERMAN.text, GERMAN.voice, tmp_path / "german.wav")
    with clip.open("rb") as audio:
        result = sdk.audio.translations.create(model=WHISPER_BASE, file=audio)
    text = result.text.lower()
    assert all(word in text for word in GERMAN.english_words), text


def test_diarized_json_and_verbose_confidence_on_real_audio(sdk: Any) -> None:
    with SAMPLE.open("rb") as audio:
        diarized = sdk.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize",
            file=audio,
            response_format="diarized_json",
            extra_body={"chunking_strategy": "auto"},
        )
    speakers = [segment.speaker for segment in diarized.segments]
    assert set(speakers) == {"A", "B"} and speakers[0] == "A"
    assert diarized.text and diarized.duration > 0

    with SAMPLE.open("rb") as audio:
        verbose = sdk.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert verbose.segments
    assert all(segment.avg_logprob < 0 for segment in verbose.segments)
    assert all(0 <= segment.no_speech_prob <= 1 for segment in verbose.segments)
    assert any(segment.compression_ratio > 0 for segment in verbose.segments)
    assert verbose.words and all(0 < word.probability <= 1 for word in verbose.words)
