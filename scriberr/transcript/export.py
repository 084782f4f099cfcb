"""Render a canonical transcript as an export: `txt`, `srt`, `vtt`, `json`, `tsv`, `rttm`, `docx`.

- Speakers are shown by name when the user named them, by label otherwise (`speakers` list of the
  transcript); `speakers=False` leaves them out (and drops speaker keys from `json`).
- txt is a document: one paragraph per speaker turn or after a long pause (see `layout`), blank
  lines between paragraphs, `Alice: ` before each paragraph, `[00:01:02] ` with timestamps.
- srt/vtt cues are cut for reading (`layout.cues`); SRT writes `Alice: ` before a cue, VTT a voice
  tag `<v Alice>`.
- tsv: a header and one `start, end, speaker, text` row per segment (seconds, 3 decimals).
- rttm: one `SPEAKER` line per diarization turn, with labels (names may contain spaces, which RTTM
  cannot carry); empty without diarization.
- docx: see `scriberr.transcript.docx`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scriberr.transcript.layout import CueLimits, Paragraph, cues, paragraphs

FORMATS = ("txt", "srt", "vtt", "json", "tsv", "rttm", "docx")
TEXT_FORMATS = ("txt", "srt", "vtt", "json", "tsv", "rttm")
SUBTITLE_FORMATS = ("srt", "vtt")
TIMESTAMP_FORMATS = ("txt", "docx")
_SPEAKER_KEYS = ("speaker_turns", "speakers")


@dataclass(frozen=True)
class ExportOptions:
    speakers: bool = True
    timestamps: bool = False  # txt; docx always shows them
    limits: CueLimits = field(default_factory=CueLimits)
    # Document metadata (docx heading, RTTM file id).
    title: str | None = None
    created_at: datetime | None = None
    uri: str = "transcript"


def speaker_names(transcript: Mapping[str, Any]) -> dict[str, str]:
    """label → what to show: the user's name for that speaker, or the label."""
    names: dict[str, str] = {}
    for item in transcript.get("speakers") or []:
        if isinstance(item, Mapping) and isinstance(item.get("label"), str):
            name = item.get("name")
            names[item["label"]] = name if isinstance(name, str) and name.strip() else item["label"]
    return names


def shown_speaker(label: Any, names: Mapping[str, str], options: ExportOptions) -> str | None:
    if not options.speakers or not isinstance(label, str) or not label:
        return None
    return names.get(label, label)


def clock(seconds: float, separator: str) -> str:
    millis = max(0, round(float(seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def short_clock(seconds: float) -> str:
    whole = max(0, int(float(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def document_paragraphs(
    transcript: Mapping[str, Any], options: ExportOptions
) -> list[tuple[Paragraph, str | None]]:
    """Paragraphs with the speaker to show for each (None when hidden or undiarized)."""
    names = speaker_names(transcript)
    return [(p, shown_speaker(p.speaker, names, options)) for p in paragraphs(transcript)]


def _txt(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    blocks = []
    for paragraph, speaker in document_paragraphs(transcript, options):
        head = f"[{short_clock(paragraph.start)}] " if options.timestamps else ""
        if speaker:
            head += f"{speaker}: "
        blocks.append(head + paragraph.text)
    if not blocks:
        text = " ".join(str(transcript.get("text") or "").split())
        return text + "\n" if text else ""
    return "\n\n".join(blocks) + "\n"


def _srt(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    names = speaker_names(transcript)
    widest = max((len(name) for name in names.values()), default=0)
    prefix = widest + 2 if options.speakers else 0
    blocks = []
    for number, cue in enumerate(cues(transcript, options.limits, prefix_chars=prefix), start=1):
        speaker = shown_speaker(cue.speaker, names, options)
        lines = list(cue.lines)
        if speaker:
            lines[0] = f"{speaker}: {lines[0]}"
        body = "\n".join(lines)
        blocks.append(f"{number}\n{clock(cue.start, ',')} --> {clock(cue.end, ',')}\n{body}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    names = speaker_names(transcript)
    blocks = ["WEBVTT\n"]
    for cue in cues(transcript, options.limits):
        speaker = shown_speaker(cue.speaker, names, options)
        body = "\n".join(_vtt_escape(line) for line in cue.lines)
        if speaker:
            body = f"<v {_vtt_escape(speaker)}>{body}"
        blocks.append(f"{clock(cue.start, '.')} --> {clock(cue.end, '.')}\n{body}\n")
    return "\n".join(blocks)


def _tsv_cell(value: str) -> str:
    return " ".join(value.split())


def _tsv(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    names = speaker_names(transcript)
    rows = ["start\tend\tspeaker\ttext"]
    for segment in transcript.get("segments") or []:
        text = _tsv_cell(str(segment.get("text") or ""))
        if not text:
            continue
        speaker = shown_speaker(segment.get("speaker"), names, options) or ""
        start, end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
        rows.append(f"{start:.3f}\t{end:.3f}\t{_tsv_cell(speaker)}\t{text}")
    return "\n".join(rows) + "\n"


def _rttm(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    uri = "_".join(options.uri.split()) or "transcript"
    lines = []
    for turn in transcript.get("speaker_turns") or []:
        start, end = float(turn["start"]), float(turn["end"])
        lines.append(
            f"SPEAKER {uri} 1 {start:.3f} {end - start:.3f} <NA> <NA> {turn['speaker']} <NA> <NA>"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def _json(transcript: Mapping[str, Any], options: ExportOptions) -> str:
    document = dict(transcript)
    if not options.speakers:
        for key in _SPEAKER_KEYS:
            document.pop(key, None)
        for key in ("segments", "words"):
            document[key] = [
                {k: v for k, v in item.items() if k != "speaker"} for item in document.get(key, [])
            ]
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


_RENDERERS = {
    "txt": _txt,
    "srt": _srt,
    "vtt": _vtt,
    "json": _json,
    "tsv": _tsv,
    "rttm": _rttm,
}


def render(transcript: Mapping[str, Any], fmt: str, options: ExportOptions | None = None) -> str:
    """A text export; raises `ValueError` for a format outside `TEXT_FORMATS`."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown text format {fmt!r}; expected one of {', '.join(TEXT_FORMATS)}")
    return renderer(transcript, options or ExportOptions())


def export(transcript: Mapping[str, Any], fmt: str, options: ExportOptions | None = None) -> bytes:
    """Any export as bytes (UTF-8 for the text formats); `ValueError` for an unknown format."""
    if fmt == "docx":
        from scriberr.transcript.docx import render_docx

        return render_docx(transcript, options or ExportOptions())
    return render(transcript, fmt, options).encode("utf-8")
