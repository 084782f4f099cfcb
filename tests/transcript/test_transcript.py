"""The canonical transcript: mapping, segment fallback, speaker overlap, legacy parsing, exports."""

from __future__ import annotations

import json

import pytest

from scriberr.engine.base import Segment, SpeakerTurn, TranscriptionOutput, Word
from scriberr.transcript import assign_speakers, build_transcript, parse_stored, render

ENGINE = {"provider": "fake", "transcription_model": "fake-model"}


def _output(**kwargs: object) -> TranscriptionOutput:
    base: dict[str, object] = {"text": "", "language": "en", "duration": 10.0}
    base.update(kwargs)
    return TranscriptionOutput(**base)  # type: ignore[arg-type]


def test_maps_engine_output_to_the_spec_shape() -> None:
    words = (Word(0.0, 0.4, " Hello"), Word(0.5, 1.0, " world."))
    output = _output(
        text=" Hello world. ", segments=(Segment(0.0, 1.0, " Hello world.", words),), words=()
    )
    transcript = build_transcript(output, None, ENGINE)
    assert transcript == {
        "text": "Hello world.",
        "language": "en",
        "duration": 10.0,
        "segments": [{"id": "seg_000001", "start": 0.0, "end": 1.0, "text": "Hello world."}],
        "words": [
            {"start": 0.0, "end": 0.4, "word": "Hello"},
            {"start": 0.5, "end": 1.0, "word": "world."},
        ],
        "engine": ENGINE,
    }


def test_words_and_segments_are_always_lists_and_ids_are_sequential() -> None:
    empty = build_transcript(_output(text="hi"), None, ENGINE)
    assert empty["segments"] == [] and empty["words"] == []
    segments = tuple(Segment(float(i), i + 0.5, f"s{i}") for i in range(12))
    built = build_transcript(_output(segments=segments), None, ENGINE)
    assert [s["id"] for s in built["segments"]][:2] == ["seg_000001", "seg_000002"]
    assert built["segments"][-1]["id"] == "seg_000012"
    assert built["words"] == []
    assert built["text"] == " ".join(f"s{i}" for i in range(12))


def test_segments_are_built_from_words_without_inventing_times() -> None:
    words = (
        Word(0.0, 0.3, " One"),
        Word(0.4, 0.8, " two."),
        Word(0.9, 1.2, " Three"),
        Word(3.0, 3.4, " four"),  # pause >= 1 s starts a new segment
    )
    transcript = build_transcript(_output(text="One two. Three four", words=words), None, ENGINE)
    assert [(s["start"], s["end"], s["text"]) for s in transcript["segments"]] == [
        (0.0, 0.8, "One two."),
        (0.9, 1.2, "Three"),
        (3.0, 3.4, "four"),
    ]
    starts = {w["start"] for w in transcript["words"]}
    ends = {w["end"] for w in transcript["words"]}
    assert all(s["start"] in starts and s["end"] in ends for s in transcript["segments"])


def test_words_inside_segments_are_used_when_no_top_level_words() -> None:
    segment = Segment(0.0, 1.0, "a b", (Word(0.0, 0.5, "a"), Word(0.5, 1.0, "b")))
    transcript = build_transcript(_output(segments=(segment,)), None, ENGINE)
    assert [w["word"] for w in transcript["words"]] == ["a", "b"]


def test_no_speaker_keys_without_diarization() -> None:
    words = (Word(0.0, 1.0, "a"),)
    for turns in (None, []):
        transcript = build_transcript(_output(words=words), turns, ENGINE)
        assert "speaker" not in json.dumps(transcript)


def test_speakers_by_greatest_overlap_numbered_by_first_appearance() -> None:
    words = (Word(0.0, 1.0, "a"), Word(1.0, 2.0, "b"), Word(2.0, 3.0, "c"))
    turns = [
        SpeakerTurn(0.0, 1.2, "spk_9"),  # first appearance → SPEAKER_00
        SpeakerTurn(1.2, 3.0, "spk_1"),
    ]
    transcript = build_transcript(_output(words=words), turns, ENGINE)
    assert [w["speaker"] for w in transcript["words"]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    # segments follow speaker changes; every segment carries its speaker
    assert [(s["speaker"], s["text"]) for s in transcript["segments"]] == [
        ("SPEAKER_00", "a"),
        ("SPEAKER_01", "b c"),
    ]


def test_unsorted_turns_give_the_same_result_as_sorted() -> None:
    words = (Word(0.0, 1.0, "a"), Word(5.0, 6.0, "b"), Word(9.0, 10.0, "c"))
    turns = [SpeakerTurn(8.0, 10.0, "x"), SpeakerTurn(0.0, 2.0, "y"), SpeakerTurn(4.0, 7.0, "x")]
    shuffled = build_transcript(_output(words=words), turns, ENGINE)
    ordered = build_transcript(_output(words=words), sorted(turns, key=lambda t: t.start), ENGINE)
    assert shuffled == ordered
    assert [w["speaker"] for w in shuffled["words"]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]


def test_ties_go_to_the_speaker_who_spoke_first() -> None:
    words = [{"start": 1.0, "end": 2.0, "word": "tie"}]
    turns = [SpeakerTurn(1.5, 3.0, "late"), SpeakerTurn(0.0, 1.5, "early")]
    assign_speakers(words, [], turns)
    other = [{"start": 1.0, "end": 2.0, "word": "tie"}, {"start": 2.5, "end": 3.0, "word": "x"}]
    assign_speakers(other, [], list(reversed(turns)))
    assert words[0]["speaker"] == "SPEAKER_00"  # "early": same overlap, earlier turn
    assert other[0]["speaker"] == "SPEAKER_00" and other[1]["speaker"] == "SPEAKER_01"


def test_overlap_is_summed_per_speaker() -> None:
    # A has two short turns inside the word (0.6 s total), B one longer (0.5 s).
    words = [{"start": 0.0, "end": 1.4, "word": "long"}]
    turns = [SpeakerTurn(0.0, 0.3, "A"), SpeakerTurn(0.3, 0.8, "B"), SpeakerTurn(0.8, 1.1, "A")]
    assign_speakers(words, [], turns)
    assert words[0]["speaker"] == "SPEAKER_00"
    segments = [{"start": 0.3, "end": 0.8, "text": "b"}]
    assign_speakers(words, segments, turns)
    assert segments[0]["speaker"] == "SPEAKER_01"


def test_words_outside_every_turn_take_the_nearest_turn() -> None:
    words = (
        Word(0.0, 0.5, "before"),  # before the first turn → first turn
        Word(2.0, 2.2, "gap-near-a"),  # gap: 0.2 from A's end, 0.8 from B's start
        Word(2.7, 2.9, "gap-near-b"),
        Word(9.0, 9.5, "after"),  # after the last turn → last turn
        Word(1.5, 1.5, "zero-length"),  # inside A
    )
    turns = [SpeakerTurn(3.0, 4.0, "B"), SpeakerTurn(1.0, 1.8, "A")]
    transcript = build_transcript(_output(words=words), turns, ENGINE)
    speakers = {w["word"]: w["speaker"] for w in transcript["words"]}
    a, b = speakers["gap-near-a"], speakers["gap-near-b"]
    assert a != b
    assert speakers == {
        "before": a,
        "gap-near-a": a,
        "gap-near-b": b,
        "after": b,
        "zero-length": a,
    }
    assert all("speaker" in s for s in transcript["segments"])


def test_legacy_plain_text_and_json_without_words() -> None:
    assert parse_stored("just text") == {"text": "just text", "segments": [], "words": []}
    assert parse_stored(None) == {"text": "", "segments": [], "words": []}
    assert parse_stored("") == {"text": "", "segments": [], "words": []}
    assert parse_stored('"a json string"')["segments"] == []
    old = {"text": "hi", "segments": [{"start": 0, "end": 1, "text": "hi"}]}
    parsed = parse_stored(json.dumps(old))
    assert parsed["words"] == [] and parsed["segments"] == old["segments"]
    assert parse_stored(json.dumps({**old, "words": None}))["words"] == []
    assert parse_stored(json.dumps({**old, "words": []}))["words"] == []
    no_text = parse_stored(json.dumps({"segments": [{"start": 0, "end": 1, "text": " a "}]}))
    assert no_text["text"] == "a"


def test_round_trip_of_a_built_transcript() -> None:
    words = (Word(0.0, 0.4, "x"),)
    built = build_transcript(_output(words=words, text="x"), None, ENGINE)
    assert parse_stored(json.dumps(built)) == built


def _diarized() -> dict[str, object]:
    words = (Word(0.0, 0.5, " Hi"), Word(0.6, 1.0, " there."), Word(61.0, 62.5, " Bye <now>."))
    turns = [SpeakerTurn(0.0, 1.0, "a"), SpeakerTurn(60.0, 63.0, "b")]
    return build_transcript(_output(words=words), turns, ENGINE)


def test_render_srt_and_vtt_keep_speaker_labels() -> None:
    transcript = _diarized()
    assert render(transcript, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,000\nSPEAKER_00: Hi there.\n\n"
        "2\n00:01:01,000 --> 00:01:02,500\nSPEAKER_01: Bye <now>.\n"
    )
    assert render(transcript, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v SPEAKER_00>Hi there.\n\n"
        "00:01:01.000 --> 00:01:02.500\n<v SPEAKER_01>Bye &lt;now&gt;.\n"
    )
    assert render(transcript, "txt") == "SPEAKER_00: Hi there.\n\nSPEAKER_01: Bye <now>.\n"
    assert json.loads(render(transcript, "json")) == transcript


def test_render_without_speakers_and_legacy_text() -> None:
    plain = build_transcript(_output(segments=(Segment(0.0, 1.0, "Hello"),)), None, ENGINE)
    assert render(plain, "srt") == "1\n00:00:00,000 --> 00:00:01,000\nHello\n"
    assert render(plain, "txt") == "Hello\n"
    legacy = parse_stored("old text")
    assert render(legacy, "srt") == ""  # no segments and no known duration: no cue
    assert render(legacy, "vtt") == "WEBVTT\n"
    assert (
        render({**legacy, "duration": 3.0}, "srt") == "1\n00:00:00,000 --> 00:00:03,000\nold text\n"
    )
    with pytest.raises(ValueError):
        render(plain, "docx")


def test_engine_segments_are_cut_where_the_speaker_changes() -> None:
    words = (
        Word(0.0, 0.4, " Hello."),
        Word(0.5, 0.9, " Hi"),
        Word(1.0, 1.3, " there."),
        Word(1.4, 1.8, " Bye."),
    )
    output = TranscriptionOutput(
        text="Hello. Hi there. Bye.",
        language="en",
        duration=2.0,
        segments=(
            Segment(0.0, 1.3, "Hello. Hi there.", words[:3]),
            Segment(1.4, 1.8, "Bye.", words[3:]),
        ),
        words=words,
    )
    turns = [SpeakerTurn(0.0, 0.45, "a"), SpeakerTurn(0.45, 1.35, "b"), SpeakerTurn(1.35, 2, "b")]
    transcript = build_transcript(output, turns, {})
    assert [(s["start"], s["end"], s["speaker"], s["text"]) for s in transcript["segments"]] == [
        (0.0, 0.4, "SPEAKER_00", "Hello."),
        (0.5, 1.3, "SPEAKER_01", "Hi there."),
        (1.4, 1.8, "SPEAKER_01", "Bye."),
    ]
    assert [s["id"] for s in transcript["segments"]] == ["seg_000001", "seg_000002", "seg_000003"]
    # Without diarization the engine's segments stay as they are.
    plain = build_transcript(output, None, {})
    assert [(s["start"], s["end"]) for s in plain["segments"]] == [(0.0, 1.3), (1.4, 1.8)]


def test_engine_confidence_is_kept_on_words_and_segments() -> None:
    words = (Word(0.0, 0.4, " Hello", 0.91), Word(0.5, 1.0, " world.", 0.42))
    segment = Segment(
        0.0,
        1.0,
        " Hello world.",
        words,
        avg_logprob=-0.31,
        no_speech_prob=0.02,
        compression_ratio=1.1,
    )
    transcript = build_transcript(_output(segments=(segment,)), None, ENGINE)
    assert [w["probability"] for w in transcript["words"]] == [0.91, 0.42]
    assert transcript["segments"][0] == {
        "id": "seg_000001",
        "start": 0.0,
        "end": 1.0,
        "text": "Hello world.",
        "avg_logprob": -0.31,
        "no_speech_prob": 0.02,
        "compression_ratio": 1.1,
    }
    without = build_transcript(_output(segments=(Segment(0.0, 1.0, "Hi", ()),)), None, ENGINE)
    assert "avg_logprob" not in without["segments"][0]
    assert "speaker_turns" not in without and "speakers" not in without


def test_speaker_turns_and_speakers_use_the_transcript_labels() -> None:
    words = (Word(0.0, 0.5, " Hi.", 0.9), Word(3.0, 3.5, " Yes.", 0.8))
    segment = Segment(0.0, 3.5, " Hi. Yes.", words, avg_logprob=-0.2)
    # The diarizer's own labels differ from the transcript's; a third speaker has no words.
    turns = [
        SpeakerTurn(2.5, 4.0, "b"),
        SpeakerTurn(0.0, 1.0, "a"),
        SpeakerTurn(5.0, 6.0, "c"),
    ]
    transcript = build_transcript(_output(segments=(segment,)), turns, ENGINE)
    assert transcript["speaker_turns"] == [
        {"start": 0.0, "end": 1.0, "speaker": "SPEAKER_00"},
        {"start": 2.5, "end": 4.0, "speaker": "SPEAKER_01"},
        {"start": 5.0, "end": 6.0, "speaker": "SPEAKER_02"},
    ]
    assert transcript["speakers"] == [
        {"label": "SPEAKER_00", "name": None},
        {"label": "SPEAKER_01", "name": None},
        {"label": "SPEAKER_02", "name": None},
    ]
    # The segment was cut at the speaker change; both pieces keep the segment's confidence.
    assert [(s["speaker"], s["text"], s["avg_logprob"]) for s in transcript["segments"]] == [
        ("SPEAKER_00", "Hi.", -0.2),
        ("SPEAKER_01", "Yes.", -0.2),
    ]
