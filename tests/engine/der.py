"""Diarization error rate with pyannote.metrics: no forgiveness collar, overlapping speech scored,
evaluated over the whole file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from scriberr.engine.base import SpeakerTurn


def read_rttm(path: Path) -> Annotation:
    reference = Annotation()
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            reference[Segment(start, start + duration)] = fields[7]
    return reference


def diarization_error_rate(reference: Path, turns: Iterable[SpeakerTurn], duration: float) -> float:
    hypothesis = Annotation()
    for turn in turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    uem = Timeline([Segment(0.0, duration)])
    return float(metric(read_rttm(reference), hypothesis, uem=uem))
