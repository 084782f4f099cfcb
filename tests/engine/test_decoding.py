"""Decoding controls reach faster-whisper: every job option on a real model, and hotwords
changing the output of a real clip where the default misspells a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriberr.engine.base import CancelToken, TranscriptionOptions
from scriberr.engine.catalog import locate_model
from scriberr.engine.local import LocalProvider, audio, whisper

from .conftest import JFK

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# espeak-ng saying "My colleague Siobhan deployed the cluster." (16 kHz mono); tiny.en does not
# know the name by default.
SIOBHAN = Path(__file__).resolve().parent / "clips" / "siobhan.flac"


def test_every_decoding_option_reaches_faster_whisper(tmp_path: Path) -> None:
    location = locate_model("whisper-tiny.en", tmp_path, auto_download=False)
    model = whisper.load_model(location, "cpu", "int8", 0)
    prepared = tmp_path / "jfk.wav"
    audio.normalise_audio(JFK, prepared, lambda: None)
    samples = audio.load_samples(prepared)
    options = TranscriptionOptions(
        model="whisper-tiny.en",
        language="en",
        hotwords="Kennedy",
        beam_size=3,
        temperature=0.2,
        vad=True,
        vad_min_silence_ms=700,
        condition_on_previous_text=False,
        prompt="A speech.",
    )
    _segments, info = whisper.start_decoding(model, samples, options)
    used = info.transcription_options
    assert used.hotwords == "Kennedy"
    assert used.beam_size == 3
    assert list(used.temperatures) == [0.2]
    assert used.condition_on_previous_text is False
    assert used.initial_prompt == "A speech."
    assert info.vad_options.min_silence_duration_ms == 700

    defaults = TranscriptionOptions(model="whisper-tiny.en", vad=False)
    _segments, info = whisper.start_decoding(model, samples, defaults)
    assert info.transcription_options.beam_size == 5
    assert info.transcription_options.hotwords is None
    assert info.transcription_options.condition_on_previous_text is True
    assert info.vad_options is None


def test_hotwords_fix_a_misspelled_name(provider: LocalProvider, tmp_path: Path) -> None:
    prepared = provider.prepare_audio(SIOBHAN, tmp_path / "siobhan.wav", CancelToken())

    def text(options: TranscriptionOptions) -> str:
        return provider.transcribe(prepared, options, lambda _f: None, CancelToken()).text

    assert "Siobhan" not in text(TranscriptionOptions(model="whisper-tiny.en"))
    assert "Siobhan" in text(TranscriptionOptions(model="whisper-tiny.en", hotwords="Siobhan"))
