"""Diarization error rate with pyannote.metrics: no forgiveness collar, overlapping speech scored,
evaluated over the whole file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from scriberr.engine.base import SpeakerTurn


def read_rttm(path: Path, offset: float = 0.0, into: Annotation | None = None) -> Annotation:
    """The RTTM's speaker turns, each moved `offset` seconds later (added to `into` if given)."""
    reference = Annotation() if into is None else into
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]) + offset, float(fields[4])
            reference[Segment(start, start + duration)] = fields[7]
    return reference


def diarization_error_rate(
    reference: Path | Annotation, turns: Iterable[SpeakerTurn], duration: float
) -> float:
    hypothesis = Annotation()
    for turn in turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    uem = Timeline([Segment(0.0, duration)])
    truth = read_rttm(reference) if isinstance(reference, Path) else reference
    return float(metric(truth, hypothesis, uem=uem))
