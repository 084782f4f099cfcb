"""Build the canonical transcript dict (SPEC §4) from engine output and diarization turns.

Shape: `{text, language, duration, segments, words, engine}`, plus `speaker_turns` and
`speakers` with diarization; `segments` and `words` are always lists. Segment ids are `seg_000001`, `seg_000002`, … in order. Times are rounded to milliseconds
and always come from the engine: when the engine gave words but no segments, segments are grouped
from the words (a segment ends at sentence punctuation, at a pause of `PAUSE_SPLIT_S` or more, or
when the speaker changes) and take their first word's start and last word's end. With
diarization, an engine segment whose words change speaker is cut there the same way.

Engine confidence is kept where the engine gives it: word `probability`; segment `avg_logprob`,
`no_speech_prob`, `compression_ratio` (the pieces of a segment cut at a speaker change keep their
segment's values). With diarization, `speaker_turns` is the diarization itself relabelled with the
transcript's labels (what DER and the RTTM export use), and `speakers` lists every label with its
user-given `name` (`null` until named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scriberr.transcript.inputs import Segment, SpeakerTurn, TranscriptionOutput, Word
from scriberr.transcript.speakers import assign_speakers, raw_speakers

PAUSE_SPLIT_S = 1.0
CONFIDENCE_KEYS = ("avg_logprob", "no_speech_prob", "compression_ratio")
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


def segment_id(index: int) -> str:
    """`seg_000001` for index 0."""
    return f"seg_{index + 1:06d}"


def _time(value: float) -> float:
    return round(float(value), 3)


def _word_dict(word: Word) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start": _time(word.start),
        "end": _time(word.end),
        "word": word.word.strip(),
    }
    if word.probability is not None:
        item["probability"] = float(word.probability)
    return item


def _confidence(segment: Segment) -> dict[str, float]:
    values = {key: getattr(segment, key) for key in CONFIDENCE_KEYS}
    return {key: float(value) for key, value in values.items() if value is not None}


def _engine_words(output: TranscriptionOutput) -> list[Word]:
    if output.words:
        return list(output.words)
    return [word for segment in output.segments for word in segment.words]


def _join_words(raw: Sequence[str]) -> str:
    """Whisper-style words carry their own leading space; others are joined with one."""
    if any(text[:1].isspace() for text in raw):
        return "".join(raw).strip()
    return " ".join(text.strip() for text in raw if text.strip())


def _segment_dict(segment: Segment) -> dict[str, Any]:
    return {
        "start": _time(segment.start),
        "end": _time(segment.end),
        "text": segment.text.strip(),
        **_confidence(segment),
    }


def _segments_from_words(
    words: Sequence[Word], word_dicts: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    groups: list[list[int]] = []
    for index in range(len(words)):
        if not groups or _starts_new_group(words, word_dicts, groups[-1][-1], index):
            groups.append([])
        groups[-1].append(index)
    return [
        {
            "start": word_dicts[group[0]]["start"],
            "end": word_dicts[group[-1]]["end"],
            "text": _join_words([words[i].word for i in group]),
        }
        for group in groups
    ]


def _starts_new_group(
    words: Sequence[Word], word_dicts: Sequence[Mapping[str, Any]], previous: int, current: int
) -> bool:
    if words[previous].word.strip().endswith(_SENTENCE_END):
        return True
    if words[current].start - words[previous].end >= PAUSE_SPLIT_S:
        return True
    return word_dicts[previous].get("speaker") != word_dicts[current].get("speaker")


def _split_at_speaker_changes(
    segments: Sequence[Segment], turns: Sequence[SpeakerTurn]
) -> list[dict[str, Any]]:
    """Engine segments, each cut where the speaker of its words changes, so no segment (and no
    subtitle cue) mixes two speakers. The pieces take their times from their words."""
    pieces: list[dict[str, Any]] = []
    for segment in segments:
        speakers = raw_speakers([(w.start, w.end) for w in segment.words], turns)
        if len(set(speakers)) <= 1:
            pieces.append(_segment_dict(segment))
            continue
        first = 0
        for index in range(1, len(segment.words) + 1):
            if index == len(segment.words) or speakers[index] != speakers[first]:
                group = segment.words[first:index]
                pieces.append(
                    {
                        "start": _time(group[0].start),
                        "end": _time(group[-1].end),
                        "text": _join_words([word.word for word in group]),
                        **_confidence(segment),
                    }
                )
                first = index
    return pieces


def _ordered_segment(index: int, segment: Mapping[str, Any]) -> dict[str, Any]:
    ordered: dict[str, Any] = {
        "id": segment_id(index),
        "start": segment["start"],
        "end": segment["end"],
    }
    if "speaker" in segment:
        ordered["speaker"] = segment["speaker"]
    ordered["text"] = segment["text"]
    for key in CONFIDENCE_KEYS:
        if key in segment:
            ordered[key] = segment[key]
    return ordered


def _speaker_turns(turns: Sequence[SpeakerTurn], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    ordered = sorted(
        (t for t in turns if t.end > t.start), key=lambda t: (t.start, t.end, t.speaker)
    )
    return [
        {"start": _time(t.start), "end": _time(t.end), "speaker": labels[t.speaker]}
        for t in ordered
        if t.speaker in labels
    ]


def build_transcript(
    output: TranscriptionOutput,
    turns: Sequence[SpeakerTurn] | None,
    engine_info: Mapping[str, Any],
) -> dict[str, Any]:
    """The SPEC §4 transcript. `turns` is None (or empty) without diarization: then no item has a
    `speaker` key. `engine_info` is copied into `engine` as given (provider, models)."""
    engine_words = _engine_words(output)
    words = [_word_dict(word) for word in engine_words]
    diarized = bool(turns)
    if diarized and turns is not None:
        assign_speakers(words, [], turns)
    if output.segments and diarized and turns is not None:
        segments = _split_at_speaker_changes(output.segments, turns)
    elif output.segments:
        segments = [_segment_dict(segment) for segment in output.segments]
    else:
        segments = _segments_from_words(engine_words, words)
    labels: dict[str, str] = {}
    if diarized and turns is not None:
        labels = assign_speakers(words, segments, turns)
    segments = [_ordered_segment(index, segment) for index, segment in enumerate(segments)]
    text = output.text.strip() or " ".join(s["text"] for s in segments if s["text"]).strip()
    transcript: dict[str, Any] = {
        "text": text,
        "language": output.language,
        "duration": _time(output.duration),
        "segments": segments,
        "words": words,
        "engine": dict(engine_info),
    }
    if diarized and turns is not None:
        transcript["speaker_turns"] = _speaker_turns(turns, labels)
        transcript["speakers"] = [
            {"label": label, "name": None} for label in sorted(set(labels.values()))
        ]
    return transcript
