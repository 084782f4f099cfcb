"""The real engine hands out segments while it decodes (live partial transcripts)."""

from __future__ import annotations

import time

import pytest

from scriberr.engine.base import (
    CancelToken,
    JobCanceled,
    PreparedAudio,
    Segment,
    TranscriptionOptions,
)
from scriberr.engine.local import LocalProvider

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_segments_arrive_in_order_while_the_engine_decodes(
    provider: LocalProvider, three_minutes: PreparedAudio
) -> None:
    progress: list[float] = []
    received: list[tuple[int, Segment, float, float]] = []

    def on_segment(index: int, segment: Segment) -> None:
        received.append((index, segment, time.monotonic(), max(progress, default=0.0)))

    output = provider.transcribe(
        three_minutes,
        TranscriptionOptions(model="whisper-tiny.en"),
        progress.append,
        CancelToken(),
        on_segment,
    )
    returned = time.monotonic()

    assert [index for index, _, _, _ in received] == list(range(len(output.segments)))
    assert tuple(segment for _, segment, _, _ in received) == output.segments
    assert " ".join(s.text for _, s, _, _ in received if s.text).strip() == output.text
    first_at, first_progress = received[0][2], received[0][3]
    # the first segments came while most of the audio was still to decode
    assert first_progress < 0.9
    assert first_at < received[-1][2] < returned
    assert progress[-1] == 1.0


def test_a_cancel_at_the_first_streamed_segment_stops_the_job_and_the_engine_goes_on(
    provider: LocalProvider, three_minutes: PreparedAudio
) -> None:
    # The first segment comes from the input's first part, while the rest is being prepared in
    # a thread of its own: the cancel must not wait for that, nor leave the process unusable.
    cancel = CancelToken()
    received: list[int] = []

    def on_segment(index: int, _segment: Segment) -> None:
        received.append(index)
        cancel.cancel()

    options = TranscriptionOptions(model="whisper-tiny.en")
    with pytest.raises(JobCanceled):
        provider.transcribe(three_minutes, options, lambda _f: None, cancel, on_segment)
    assert received[:1] == [0]
    after = provider.transcribe(three_minutes, options, lambda _f: None, CancelToken())
    assert after.text and after.segments[-1].end > 170
