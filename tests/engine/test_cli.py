"""`scriberr transcribe` and `scriberr models` on the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import jiwer
import pytest

from scriberr.cli import main

from .conftest import JFK, JFK_REFERENCE
from .test_transcription import normalise

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCRIBERR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPEECH_ENGINE_PROVIDER", "cpu")
    monkeypatch.setenv("SPEECH_ENGINE_AUTO_DOWNLOAD", "false")
    return tmp_path


def test_transcribe_prints_the_transcript_in_the_asked_format(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(JFK), "--format", "json"]) == 0
    transcript = json.loads(capsys.readouterr().out)
    assert jiwer.wer(normalise(JFK_REFERENCE), normalise(transcript["text"])) <= 0.10
    assert transcript["words"] and transcript["segments"]
    assert transcript["engine"] == {"provider": "local", "transcription_model": "whisper-tiny.en"}


def test_transcribe_reports_engine_errors_in_one_clean_line(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = environment / "broken.wav"
    broken.write_bytes(b"not audio")
    assert main(["transcribe", str(broken)]) == 1
    assert main(["transcribe", str(JFK), "--model", "whisper-small"]) == 1
    assert main(["transcribe", str(JFK), "--model", "nope"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert "could not be decoded" in errors[0] and str(environment) not in errors[0]
    assert "whisper-small" in errors[1] and "/" not in errors[1]
    assert "nope" in errors[2]


def test_transcribe_takes_decoding_flags_and_rejects_bad_values(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    siobhan = Path(__file__).resolve().parent / "clips" / "siobhan.flac"
    flags = ["--hotwords", "Siobhan", "--beam-size", "3", "--temperature", "0", "--no-vad"]
    assert main(["transcribe", str(siobhan), *flags, "--no-condition-on-previous-text"]) == 0
    assert "Siobhan" in capsys.readouterr().out
    assert main(["transcribe", str(siobhan), "--beam-size", "99"]) == 2
    assert main(["transcribe", str(siobhan), "--task", "translate"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[0].startswith("scriberr: --beam-size: beam_size must be between 1 and 10")
    assert errors[1].startswith("scriberr: --task: model 'whisper-tiny.en'")


def test_models_lists_the_catalog_with_installed_state(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--json"]) == 0
    models = {model["id"]: model for model in json.loads(capsys.readouterr().out)}
    assert models["whisper-tiny.en"]["installed"] and models["whisper-tiny.en"]["default"]
    assert not models["whisper-large-v3"]["installed"]
    assert models["diarization-default"]["installed"]
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "whisper-large-v3-turbo" in table and "INSTALLED" in table
