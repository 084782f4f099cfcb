"""Render a canonical transcript as an export: `txt`, `srt`, `vtt` or `json`.

Cues come from the segments; a segment with a speaker is prefixed `SPEAKER_00: ` (SRT, TXT) or
voiced `<v SPEAKER_00>` (VTT). A transcript with text but no segments (legacy plain text) becomes
one cue spanning the known duration, or no cue when the duration is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

FORMATS = ("txt", "srt", "vtt", "json")


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(float(seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(transcript: Mapping[str, Any]) -> list[tuple[float, float, str | None, str]]:
    segments = transcript.get("segments") or []
    if segments:
        return [
            (float(s.get("start", 0.0)), float(s.get("end", 0.0)), s.get("speaker"), _text(s))
            for s in segments
            if _text(s)
        ]
    text = _text(transcript)
    duration = float(transcript.get("duration") or 0.0)
    return [(0.0, duration, None, text)] if text and duration > 0 else []


def _text(item: Mapping[str, Any]) -> str:
    return str(item.get("text") or "").strip()


def _txt(transcript: Mapping[str, Any]) -> str:
    segments = transcript.get("segments") or []
    if any(s.get("speaker") for s in segments):
        lines = [f"{s['speaker']}: {_text(s)}" if s.get("speaker") else _text(s) for s in segments]
        return "\n".join(line for line in lines if line.strip()) + "\n"
    text = _text(transcript)
    return text + "\n" if text else ""


def _srt(transcript: Mapping[str, Any]) -> str:
    blocks = []
    for number, (start, end, speaker, text) in enumerate(_cues(transcript), start=1):
        label = f"{speaker}: {text}" if speaker else text
        blocks.append(f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{label}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(transcript: Mapping[str, Any]) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, speaker, text in _cues(transcript):
        body = f"<v {_vtt_escape(speaker)}>{_vtt_escape(text)}" if speaker else _vtt_escape(text)
        blocks.append(f"{_clock(start, '.')} --> {_clock(end, '.')}\n{body}\n")
    return "\n".join(blocks)


def render(transcript: Mapping[str, Any], fmt: str) -> str:
    """The export text; raises `ValueError` for a format outside `FORMATS`."""
    if fmt == "txt":
        return _txt(transcript)
    if fmt == "srt":
        return _srt(transcript)
    if fmt == "vtt":
        return _vtt(transcript)
    if fmt == "json":
        return json.dumps(transcript, ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
