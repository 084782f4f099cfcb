"""Exports and reading layout: txt paragraphs, subtitle cues, tsv, rttm, docx, names, re-timing."""

from __future__ import annotations

import io
import itertools
import re
from typing import Any

from docx import Document

from scriberr.transcript import CueLimits, ExportOptions, export, render
from scriberr.transcript.layout import cues, paragraphs, retime

WORDS = [
    "so",
    "the",
    "plan",
    "for",
    "this",
    "quarter",
    "is",
    "simple",
    "we",
    "ship",
    "the",
    "new",
    "importer",
    "first",
    "then",
    "we",
    "fix",
    "the",
    "long",
    "tail",
    "of",
    "bugs",
    "that",
    "people",
    "reported",
    "and",
    "after",
    "that",
    "we",
    "look",
    "again",
    "at",
    "speed",
]


def _timed_words(words: list[str], start: float, step: float, speaker: str | None) -> list[Any]:
    items = []
    for index, word in enumerate(words):
        item: dict[str, Any] = {
            "start": round(start + index * step, 3),
            "end": round(start + index * step + step * 0.8, 3),
            "word": word,
        }
        if speaker:
            item["speaker"] = speaker
        items.append(item)
    return items


def _transcript() -> dict[str, Any]:
    """Three segments: SPEAKER_00 talks, a pause, SPEAKER_00 again, then SPEAKER_01."""
    first = _timed_words(WORDS[:20], 0.0, 0.4, "SPEAKER_00")
    second = _timed_words(WORDS[20:], 12.0, 0.5, "SPEAKER_00")
    third = _timed_words(["yes.", "agreed,", "let's", "do", "that."], 22.0, 0.3, "SPEAKER_01")
    segments = []
    for index, words in enumerate((first, second, third)):
        segments.append(
            {
                "id": f"seg_{index + 1:06d}",
                "start": words[0]["start"],
                "end": words[-1]["end"],
                "speaker": words[0]["speaker"],
                "text": " ".join(w["word"] for w in words),
            }
        )
    return {
        "text": " ".join(s["text"] for s in segments),
        "language": "en",
        "duration": 24.0,
        "segments": segments,
        "words": first + second + third,
        "speaker_turns": [
            {"start": 0.0, "end": 20.0, "speaker": "SPEAKER_00"},
            {"start": 21.9, "end": 23.5, "speaker": "SPEAKER_01"},
        ],
        "speakers": [
            {"label": "SPEAKER_00", "name": "Alice"},
            {"label": "SPEAKER_01", "name": None},
        ],
    }


def _srt_cues(text: str) -> list[tuple[float, float, list[str]]]:
    result = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = (_seconds(part) for part in lines[1].split(" --> "))
        result.append((start, end, lines[2:]))
    return result


def _seconds(clock: str) -> float:
    hours, minutes, rest = clock.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_txt_paragraphs_break_at_speaker_changes_and_pauses_and_show_names() -> None:
    transcript = _transcript()
    text = render(transcript, "txt")
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 3  # pause of more than 2 s, then a speaker change
    assert blocks[0].startswith("Alice: so the plan")
    assert blocks[2] == "SPEAKER_01: yes. agreed, let's do that."
    stamped = render(transcript, "txt", ExportOptions(timestamps=True))
    assert stamped.split("\n\n")[1].startswith("[00:00:12] Alice: ")
    plain = render(transcript, "txt", ExportOptions(speakers=False))
    assert "Alice" not in plain and "SPEAKER_" not in plain
    assert " ".join(plain.split()) == " ".join(transcript["text"].split())


def test_a_long_monologue_is_split_into_paragraphs_at_sentence_ends() -> None:
    segments = [
        {"id": f"s{i}", "start": i * 10.0, "end": i * 10.0 + 9.5, "text": f"Sentence {i}."}
        for i in range(18)
    ]
    blocks = paragraphs({"text": "", "segments": segments, "words": []})
    assert len(blocks) == 3
    assert all(block.end - block.start <= 70 for block in blocks)


def test_subtitle_cues_respect_the_limits_and_keep_every_word() -> None:
    transcript = _transcript()
    for limits in (CueLimits(), CueLimits(20, 1, 2.0), CueLimits(30, 3, 4.0)):
        found = cues(transcript, limits)
        assert " ".join(cue.text for cue in found) == " ".join(transcript["text"].split())
        for cue in found:
            assert len(cue.lines) <= limits.max_lines
            assert all(len(line) <= limits.max_line_chars for line in cue.lines)
            assert 0 <= cue.end - cue.start <= limits.max_cue_seconds
        # Cue times come from the words: each cue starts at one of its words' start.
        starts = {w["start"] for w in transcript["words"]}
        assert all(cue.start in starts for cue in found)
        assert [cue.start for cue in found] == sorted(cue.start for cue in found)


def test_srt_and_vtt_never_mix_speakers_and_count_the_name_in_the_line() -> None:
    transcript = _transcript()
    srt = render(transcript, "srt")
    parsed = _srt_cues(srt)
    assert all(len(line) <= 42 for _, _, lines in parsed for line in lines)
    assert all(len(lines) <= 2 and end - start <= 7 for start, end, lines in parsed)
    speakers = [lines[0].split(":")[0] for _, _, lines in parsed]
    assert set(speakers) == {"Alice", "SPEAKER_01"}
    # Once SPEAKER_01 starts, no later cue belongs to Alice: segments are never merged.
    assert speakers == sorted(speakers, key=lambda s: s != "Alice")
    vtt = render(transcript, "vtt", ExportOptions(limits=CueLimits(30, 1, 3.0)))
    assert vtt.startswith("WEBVTT\n")
    bodies = [b.splitlines() for b in vtt.split("\n\n")[1:]]
    assert all(body[1].startswith(("<v Alice>", "<v SPEAKER_01>")) for body in bodies)
    assert all(len(re.sub(r"^<v [^>]+>", "", body[1])) <= 30 for body in bodies)
    unnamed = render(transcript, "srt", ExportOptions(speakers=False))
    assert "Alice" not in unnamed and "SPEAKER_01" not in unnamed


def test_legacy_text_without_segments_is_cut_into_timed_cues() -> None:
    legacy = {"text": " ".join(WORDS), "duration": 30.0, "segments": [], "words": []}
    found = cues(legacy, CueLimits())
    assert len(found) > 1
    assert " ".join(cue.text for cue in found) == " ".join(WORDS)
    assert found[0].start == 0.0 and found[-1].end <= 30.0


def test_tsv_rows_and_rttm_turns() -> None:
    transcript = _transcript()
    rows = render(transcript, "tsv").splitlines()
    assert rows[0] == "start\tend\tspeaker\ttext"
    assert rows[1].split("\t")[:3] == ["0.000", "7.920", "Alice"]
    assert rows[3].split("\t")[2] == "SPEAKER_01"
    rttm = render(transcript, "rttm", ExportOptions(uri="tr_abc")).splitlines()
    assert rttm == [
        "SPEAKER tr_abc 1 0.000 20.000 <NA> <NA> SPEAKER_00 <NA> <NA>",
        "SPEAKER tr_abc 1 21.900 1.600 <NA> <NA> SPEAKER_01 <NA> <NA>",
    ]
    assert render({"text": "hi", "segments": [], "words": []}, "rttm") == ""


def test_json_without_speakers_drops_every_speaker_key() -> None:
    import json

    document = json.loads(render(_transcript(), "json", ExportOptions(speakers=False)))
    assert "speakers" not in document and "speaker_turns" not in document
    assert all("speaker" not in item for item in document["segments"] + document["words"])


def test_docx_opens_with_python_docx_and_holds_title_names_and_text() -> None:
    transcript = _transcript()
    data = export(transcript, "docx", ExportOptions(title="Quarter planning"))
    document = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert document.paragraphs[0].text == "Quarter planning"
    assert "Alice (00:00:00)" in text and "SPEAKER_01 (00:00:22)" in text
    assert "we ship the new importer first" in text
    bold = [run.text for p in document.paragraphs for run in p.runs if run.bold]
    assert "Alice (00:00:00)" in bold


def test_retime_keeps_words_inside_the_span_in_increasing_order() -> None:
    tokens = retime("a quick correction of several words", 3.0, 6.0)
    assert [t.text for t in tokens] == ["a", "quick", "correction", "of", "several", "words"]
    assert tokens[0].start == 3.0 and tokens[-1].end == 6.0
    assert all(t.start < t.end for t in tokens)
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))
    # Longer words get more time.
    assert (tokens[2].end - tokens[2].start) > (tokens[0].end - tokens[0].start)
