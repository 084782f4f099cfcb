"""Multilingual, offline: the Whisper base model from the test-only packages, installed with
`scriberr models import`, on German, French and Spanish spoken by espeak-ng."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import jiwer
import pytest

from scriberr.cli import main
from scriberr.engine.base import CancelToken, TranscriptionOptions
from scriberr.engine.local import LocalProvider
from tests.multilingual import (
    FRENCH,
    GERMAN,
    SPANISH,
    WHISPER_BASE,
    Sentence,
    speak,
)

from .conftest import make_provider

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def base_cache(whisper_base_cache: Path) -> Path:
    return whisper_base_cache


@pytest.fixture(scope="module")
def base_provider(base_cache: Path) -> Iterator[LocalProvider]:
    provider = make_provider(base_cache)
    yield provider
    provider.close()


def _transcribe(
    provider: LocalProvider, sentence: Sentence, scratch: Path, **options: str
) -> tuple[str, str | None]:
    clip = speak(sentence.text, sentence.voice, scratch / f"{sentence.voice}.wav")
    audio = provider.prepare_audio(clip, scratch / f"{sentence.voice}-16k.wav", CancelToken())
    output = provider.transcribe(
        audio,
        TranscriptionOptions(model=WHISPER_BASE, **options),  # type: ignore[arg-type]
        lambda _f: None,
        CancelToken(),
    )
    return output.text.lower(), output.language


def _contains(text: str, words: tuple[str, ...]) -> bool:
    return all(word in text for word in words)


def _wer(sentence: Sentence, text: str) -> float:
    return float(jiwer.wer(_normalise(sentence.text), _normalise(text)))


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def test_import_then_german_is_detected_from_the_cli(
    base_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCRIBERR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPEECH_ENGINE_CACHE_DIR", str(base_cache))
    monkeypatch.setenv("SPEECH_ENGINE_PROVIDER", "cpu")
    monkeypatch.setenv("SPEECH_ENGINE_AUTO_DOWNLOAD", "false")
    assert main(["models", "--json"]) == 0
    listing = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert (
        listing[WHISPER_BASE]["installed"] and "translate" in listing[WHISPER_BASE]["capabilities"]
    )
    clip = speak(GERMAN.text, GERMAN.voice, tmp_path / "german.wav")
    assert main(["transcribe", str(clip), "--model", WHISPER_BASE, "--format", "json"]) == 0
    transcript = json.loads(capsys.readouterr().out)
    assert transcript["language"] == "de"
    assert _wer(GERMAN, transcript["text"]) <= 0.35, transcript["text"]


@pytest.mark.parametrize("sentence", [FRENCH, SPANISH], ids=["fr", "es"])
def test_an_explicit_language(
    base_provider: LocalProvider, tmp_path: Path, sentence: Sentence
) -> None:
    text, language = _transcribe(base_provider, sentence, tmp_path, language=sentence.voice)
    assert language == sentence.voice
    assert _wer(sentence, text) <= 0.35, text


def test_translation_to_english(base_provider: LocalProvider, tmp_path: Path) -> None:
    text, language = _transcribe(base_provider, GERMAN, tmp_path, task="translate")
    assert language == "de"  # the spoken language, detected
    assert _contains(text, GERMAN.english_words), text
    assert "zeit" not in text and "morgen" not in text
