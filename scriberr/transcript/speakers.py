"""Speaker assignment: give each timed item the diarization speaker it overlaps most.

Rules (SPEC §4; decisions written down in docs/QUEUE.md, "Transcript decisions"):
- The speaker of an interval is the one whose turns overlap it for the longest total time (turns
  of the same speaker are summed). Turn order in the input does not matter.
- Ties go to the speaker that appears first in time (earliest turn start), then by raw label.
- An interval that overlaps no turn (a word in a gap, before the first or after the last turn)
  takes the nearest turn's speaker (smallest gap; ties to the earlier turn), so every word carries
  a speaker when diarization ran. Zero-length items count as overlapping a turn they lie inside.
- Output labels are `SPEAKER_00`, `SPEAKER_01`, … numbered by first appearance in the items
  (words first, then segments), so labels are contiguous whatever the engine called its speakers.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from scriberr.transcript.inputs import SpeakerTurn


def _sorted_turns(turns: Sequence[SpeakerTurn]) -> list[SpeakerTurn]:
    valid = [t for t in turns if t.end >= t.start]
    return sorted(valid, key=lambda t: (t.start, t.end, t.speaker))


def _first_seen(turns: Sequence[SpeakerTurn]) -> dict[str, int]:
    order: dict[str, int] = {}
    for turn in turns:
        order.setdefault(turn.speaker, len(order))
    return order


def speaker_for(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str | None:
    """The raw speaker label for the interval [start, end], or None when there are no turns.

    `turns` must already be sorted by (start, end, speaker) for the tie rule to hold; use
    `assign_speakers` unless you sort yourself.
    """
    if not turns:
        return None
    order = _first_seen(turns)
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return min(overlap, key=lambda s: (-overlap[s], order[s], s))
    return min(turns, key=lambda t: (_gap(start, end, t), t.start, t.speaker)).speaker


def _gap(start: float, end: float, turn: SpeakerTurn) -> float:
    if end <= turn.start:
        return turn.start - end
    return max(0.0, start - turn.end)


def raw_speakers(
    intervals: Sequence[tuple[float, float]], turns: Sequence[SpeakerTurn]
) -> list[str | None]:
    """The raw (diarizer) speaker of each (start, end) interval, by the rules above."""
    ordered = _sorted_turns(turns)
    return [speaker_for(start, end, ordered) for start, end in intervals]


def assign_speakers(
    words: Sequence[MutableMapping[str, Any]],
    segments: Sequence[MutableMapping[str, Any]],
    turns: Sequence[SpeakerTurn],
) -> dict[str, str]:
    """Set a `speaker` key on every word and segment dict (in place) from the diarization turns;
    returns the mapping raw diarizer label → output label. A diarizer speaker that no item
    overlaps most gets the next free label after the others (in order of first turn).

    Does nothing when `turns` is empty: then no item gets a `speaker` key at all.
    """
    ordered = _sorted_turns(turns)
    if not ordered:
        return {}
    raw_words = [speaker_for(w["start"], w["end"], ordered) for w in words]
    raw_segments = [_segment_speaker(s, ordered) for s in segments]
    labels: dict[str, str] = {}
    for raw in [*raw_words, *raw_segments]:
        if raw is not None and raw not in labels:
            labels[raw] = f"SPEAKER_{len(labels):02d}"
    for item, raw in zip(words, raw_words, strict=True):
        if raw is not None:
            item["speaker"] = labels[raw]
    for item, raw in zip(segments, raw_segments, strict=True):
        if raw is not None:
            item["speaker"] = labels[raw]
    for turn in ordered:
        labels.setdefault(turn.speaker, f"SPEAKER_{len(labels):02d}")
    return labels


def _segment_speaker(segment: Mapping[str, Any], turns: Sequence[SpeakerTurn]) -> str | None:
    return speaker_for(float(segment["start"]), float(segment["end"]), turns)
