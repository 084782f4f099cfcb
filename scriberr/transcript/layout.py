"""Reading layout of a transcript: paragraphs for documents, cues for subtitles, word re-timing.

Pure functions over the canonical transcript dict (SPEC §4, §7):
- `paragraphs`: consecutive segments joined until the speaker changes, a pause of
  `PARAGRAPH_PAUSE_S` or more, or (for one long monologue) a sentence end once the paragraph has
  lasted `PARAGRAPH_MAX_S`.
- `cues`: subtitle cues cut at word boundaries with the word times; a cue has at most `max_lines`
  lines of at most `max_line_chars` characters (a single word longer than a line stands alone on
  its line) and lasts at most `max_cue_seconds`. A cue never crosses a segment, so it never mixes
  speakers; the cue texts joined with spaces give back the segment texts word for word.
- `retime`: times for the tokens of a text inside a span, in proportion to their length (used for
  edited segments and wherever the engine's words do not line up with a segment's text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

PARAGRAPH_PAUSE_S = 2.0
PARAGRAPH_MAX_S = 60.0
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")
_EPS = 0.01
W = TypeVar("W", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Token:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Paragraph:
    start: float
    end: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    speaker: str | None
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass(frozen=True)
class CueLimits:
    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_seconds: float = 7.0


def _text(item: Mapping[str, Any]) -> str:
    return " ".join(str(item.get("text") or "").split())


def timed_segments(transcript: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The segments with text; a transcript with text but no segments (legacy plain text)
    becomes one segment spanning its known duration (none when the duration is unknown)."""
    segments = [s for s in transcript.get("segments") or [] if _text(s)]
    if segments:
        return segments
    text = _text(transcript)
    duration = float(transcript.get("duration") or 0.0)
    return [{"start": 0.0, "end": duration, "text": text}] if text and duration > 0 else []


def paragraphs(transcript: Mapping[str, Any]) -> list[Paragraph]:
    result: list[Paragraph] = []
    current: list[Mapping[str, Any]] = []

    def close() -> None:
        if current:
            result.append(
                Paragraph(
                    start=float(current[0]["start"]),
                    end=float(current[-1]["end"]),
                    speaker=current[0].get("speaker"),
                    text=" ".join(_text(s) for s in current),
                )
            )
            current.clear()

    for segment in timed_segments(transcript):
        if current and _breaks(current, segment):
            close()
        current.append(segment)
    close()
    return result


def _breaks(current: Sequence[Mapping[str, Any]], segment: Mapping[str, Any]) -> bool:
    last = current[-1]
    if last.get("speaker") != segment.get("speaker"):
        return True
    if float(segment["start"]) - float(last["end"]) >= PARAGRAPH_PAUSE_S:
        return True
    long = float(last["end"]) - float(current[0]["start"]) >= PARAGRAPH_MAX_S
    return long and _text(last).endswith(_SENTENCE_END)


def retime(text: str, start: float, end: float) -> list[Token]:
    """The whitespace-separated tokens of `text` laid over [start, end] in proportion to their
    length: increasing, inside the span, the first starting at `start` and the last ending at
    `end`."""
    pieces = text.split()
    if not pieces:
        return []
    start, end = float(start), max(float(end), float(start))
    total = sum(len(piece) for piece in pieces)
    tokens = []
    offset = 0
    for piece in pieces:
        first = start + (end - start) * offset / total
        offset += len(piece)
        last = start + (end - start) * offset / total
        tokens.append(Token(round(first, 3), round(last, 3), piece))
    return tokens


def segment_tokens(segment: Mapping[str, Any], words: Sequence[Mapping[str, Any]]) -> list[Token]:
    """The segment's text as tokens timed by its words when they match the text one to one,
    otherwise re-timed in proportion to length inside the segment's span."""
    pieces = _text(segment).split()
    start, end = float(segment["start"]), float(segment["end"])
    if len(words) == len(pieces) and pieces:
        return [
            Token(float(word["start"]), max(float(word["end"]), float(word["start"])), piece)
            for word, piece in zip(words, pieces, strict=True)
        ]
    return retime(" ".join(pieces), start, end)


def words_by_segment(segments: Sequence[Mapping[str, Any]], words: Sequence[W]) -> list[list[W]]:
    """Each segment's words: the words (in order) whose middle lies inside the segment's span."""
    ordered = sorted(words, key=lambda w: (float(w.get("start", 0.0)), float(w.get("end", 0.0))))
    groups: list[list[W]] = []
    index = 0
    for segment in segments:
        start, end = float(segment["start"]) - _EPS, float(segment["end"]) + _EPS
        group: list[W] = []
        while index < len(ordered):
            word = ordered[index]
            middle = (float(word["start"]) + float(word["end"])) / 2
            if middle < start:
                index += 1
                continue
            if middle > end:
                break
            group.append(word)
            index += 1
        groups.append(group)
    return groups


def cues(transcript: Mapping[str, Any], limits: CueLimits, *, prefix_chars: int = 0) -> list[Cue]:
    """Subtitle cues (see the module docstring). `prefix_chars` is the width of a speaker prefix
    written before a cue's first line (`Alice: `), counted against that line's limit."""
    segments = timed_segments(transcript)
    groups = words_by_segment(segments, transcript.get("words") or [])
    result: list[Cue] = []
    for segment, words in zip(segments, groups, strict=True):
        speaker = segment.get("speaker")
        prefix = prefix_chars if speaker else 0
        result.extend(_segment_cues(segment_tokens(segment, words), speaker, limits, prefix))
    return result


def _segment_cues(
    tokens: Sequence[Token], speaker: str | None, limits: CueLimits, prefix: int
) -> list[Cue]:
    result: list[Cue] = []
    lines: list[list[Token]] = []
    for token in tokens:
        if lines and not _fits(lines, token, limits, prefix):
            result.append(_cue(lines, speaker, limits))
            lines = []
        if not lines:
            lines.append([token])
        elif (
            _line_width(lines[-1], token, prefix if len(lines) == 1 else 0) <= limits.max_line_chars
        ):
            lines[-1].append(token)
        else:
            lines.append([token])
    if lines:
        result.append(_cue(lines, speaker, limits))
    return result


def _line_width(line: Sequence[Token], token: Token, prefix: int) -> int:
    return prefix + sum(len(t.text) + 1 for t in line) + len(token.text)


def _fits(lines: Sequence[Sequence[Token]], token: Token, limits: CueLimits, prefix: int) -> bool:
    first = lines[0][0]
    if token.end - first.start > limits.max_cue_seconds:
        return False
    width = _line_width(lines[-1], token, prefix if len(lines) == 1 else 0)
    return width <= limits.max_line_chars or len(lines) < limits.max_lines


def _cue(lines: Sequence[Sequence[Token]], speaker: str | None, limits: CueLimits) -> Cue:
    start = lines[0][0].start
    end = min(max(lines[-1][-1].end, start), start + limits.max_cue_seconds)
    return Cue(
        start=round(start, 3),
        end=round(end, 3),
        speaker=speaker,
        lines=tuple(" ".join(t.text for t in line) for line in lines),
    )
