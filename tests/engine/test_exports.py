"""Reading layout on a real ~3-minute recording (the fixtures concatenated): subtitle cues within
the §7 limits that give back the transcript text, and a txt export in paragraphs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from scriberr.engine.base import CancelToken, TranscriptionOptions
from scriberr.engine.local import LocalProvider
from scriberr.transcript import build_transcript, render

from .conftest import JFK, SAMPLE
from .media import SAMPLE_RATE, read_audio, write_wav

pytestmark = [pytest.mark.engine, pytest.mark.slow]

_CUE_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)[,.](\d{3}) --> (\d\d):(\d\d):(\d\d)[,.](\d{3})$")


def _seconds(parts: tuple[str, ...]) -> float:
    hours, minutes, secs, millis = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def _cues(text: str, vtt: bool) -> list[tuple[float, float, list[str]]]:
    blocks = text.strip().split("\n\n")
    if vtt:
        assert blocks[0] == "WEBVTT"
        blocks = blocks[1:]
    cues = []
    for block in blocks:
        lines = block.splitlines()
        timing = lines[0] if vtt else lines[1]
        match = _CUE_TIME.match(timing)
        assert match, block
        groups = match.groups()
        cues.append((_seconds(groups[:4]), _seconds(groups[4:]), lines[1:] if vtt else lines[2:]))
    return cues


def test_three_minutes_of_speech_make_readable_subtitles_and_paragraphs(
    provider: LocalProvider, scratch: Path
) -> None:
    jfk, sample = read_audio(JFK), read_audio(SAMPLE)
    pieces = [sample, jfk, sample, jfk, sample, jfk, sample, sample]
    recording = np.concatenate(pieces)
    assert 170 <= recording.shape[0] / SAMPLE_RATE <= 200
    source = write_wav(recording, scratch / "three-minutes.wav")
    audio = provider.prepare_audio(source, scratch / "three-minutes-16k.wav", CancelToken())
    output = provider.transcribe(
        audio, TranscriptionOptions(model="whisper-tiny.en"), lambda _f: None, CancelToken()
    )
    transcript = build_transcript(output, None, {"provider": "local"})
    words = " ".join(transcript["text"].split())
    assert len(words.split()) > 300

    for fmt in ("srt", "vtt"):
        cues = _cues(render(transcript, fmt), vtt=fmt == "vtt")
        assert len(cues) > 30
        for start, end, lines in cues:
            assert 1 <= len(lines) <= 2, lines
            assert all(len(line) <= 42 for line in lines), lines
            assert 0 <= end - start <= 7.0, (start, end, lines)
        joined = " ".join(line for _, _, lines in cues for line in lines)
        if fmt == "vtt":
            joined = joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert joined == words
        assert [c[0] for c in cues] == sorted(c[0] for c in cues)

    paragraphs = render(transcript, "txt").strip().split("\n\n")
    assert len(paragraphs) >= 4
    assert " ".join(" ".join(p.split()) for p in paragraphs) == words
