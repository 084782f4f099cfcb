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


def test_transcribe_with_speaker_hints_and_the_new_formats(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from docx import Document

    from .conftest import SAMPLE

    out = environment / "sample.docx"
    assert main(["transcribe", str(SAMPLE), "--format", "docx", "-o", str(out)]) == 0
    assert any(p.text.strip() for p in Document(str(out)).paragraphs)
    assert (
        main(
            [
                "transcribe",
                str(SAMPLE),
                "--min-speakers",
                "2",
                "--max-speakers",
                "2",
                "--format",
                "srt",
                "--max-line-chars",
                "20",
                "--max-lines",
                "1",
                "--max-cue-seconds",
                "3",
            ]
        )
        == 0
    )
    srt = capsys.readouterr().out
    cues = [block.splitlines() for block in srt.strip().split("\n\n")]
    assert cues and all(len(cue) == 3 for cue in cues)
    speakers = {cue[2].split(":")[0] for cue in cues}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}
    assert all(len(cue[2]) <= 20 + len("SPEAKER_00: ") for cue in cues)
    assert main(["transcribe", str(SAMPLE), "--num-speakers", "2", "--format", "rttm"]) == 0
    rttm = capsys.readouterr().out.splitlines()
    assert rttm and all(line.startswith("SPEAKER sample 1 ") for line in rttm)
    assert main(["transcribe", str(JFK), "--format", "tsv", "--task", "transcribe"]) == 0
    assert capsys.readouterr().out.startswith("start\tend\tspeaker\ttext\n")


def test_transcribe_refuses_bad_options(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(JFK), "--min-speakers", "3", "--max-speakers", "2"]) == 2
    assert "--min-speakers" in capsys.readouterr().err
    for bad in (["--max-lines", "0"], ["--num-speakers", "x"], ["--task", "summarise"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["transcribe", str(JFK), *bad])
        assert exit_info.value.code == 2
    assert main(["transcribe", str(JFK), "--task", "translate"]) == 2  # English-only model
    assert "translat" in capsys.readouterr().err.lower()
