"""The canonical transcript (SPEC §4): building it from engine output, assigning speakers,
reading legacy stored forms, reading layout (paragraphs, subtitle cues), corrections, and
rendering exports (txt, srt, vtt, json, tsv, rttm, docx).

Everything here is a pure function over plain dicts and the engine result (read through the
protocols in `transcript.inputs`, so this package does not import the engine): no I/O.
"""

from scriberr.transcript.build import build_transcript, segment_id
from scriberr.transcript.export import FORMATS, ExportOptions, export, render
from scriberr.transcript.layout import CueLimits
from scriberr.transcript.legacy import parse_stored
from scriberr.transcript.speakers import assign_speakers, speaker_for

__all__ = [
    "FORMATS",
    "CueLimits",
    "ExportOptions",
    "assign_speakers",
    "build_transcript",
    "export",
    "parse_stored",
    "render",
    "segment_id",
    "speaker_for",
]
