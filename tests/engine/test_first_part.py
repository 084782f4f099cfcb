"""Where a streamed input's first part ends (`whisper.first_part_end`), on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from scriberr.engine.local.whisper import FIRST_PART_MAX_S, FIRST_PART_MIN_S, first_part_end

from .conftest import JFK, SAMPLE
from .media import SAMPLE_RATE, read_audio

pytestmark = pytest.mark.engine


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def test_the_first_part_ends_in_the_first_pause_after_the_minimum() -> None:
    speech = np.concatenate([read_audio(JFK), read_audio(SAMPLE)])
    cut = first_part_end(speech)

    assert cut is not None
    assert FIRST_PART_MIN_S * SAMPLE_RATE < cut < FIRST_PART_MAX_S * SAMPLE_RATE
    around = speech[cut - SAMPLE_RATE // 20 : cut + SAMPLE_RATE // 20]  # 50 ms either side
    assert _rms(around) < 0.2 * _rms(speech)  # a pause, not a word
    # the first such pause: nothing between the minimum and the cut is cut at instead
    assert first_part_end(speech[:cut]) is None


def test_no_first_part_when_speech_starts_after_the_maximum() -> None:
    silence = np.zeros(int((FIRST_PART_MAX_S + 5) * SAMPLE_RATE), dtype=np.float32)
    assert first_part_end(np.concatenate([silence, read_audio(JFK)])) is None
