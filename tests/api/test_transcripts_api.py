"""Transcript routes with the fake engine: speaker names, corrections with revisions (ETag /
If-Match), revert, and strict export options."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from .jobs_support import Env, make_env

TEXT = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path) as built:
        yield built


def _diarized(env: Env, text: str = TEXT) -> str:
    job = env.create(
        env.fake_file({"text": text, "speakers": 2, "duration": 12.0}),
        title="Standup",
        options={"diarization": True},
    )
    assert env.wait(job["id"])["status"] == "completed"
    return str(job["id"])


def _base(job_id: str) -> str:
    return f"/api/v1/transcriptions/{job_id}"


def _transcript(env: Env, job_id: str, query: str = "") -> Any:
    response = env.client.get(_base(job_id) + "/transcript" + query, headers=env.headers)
    assert response.status_code == 200, response.text
    return response


def test_speakers_are_listed_named_and_unnamed_without_touching_labels(env: Env) -> None:
    job_id = _diarized(env)
    before = _transcript(env, job_id).json()
    listed = env.client.get(_base(job_id) + "/speakers", headers=env.headers).json()["items"]
    assert [item["label"] for item in listed] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(item["name"] is None and item["talk_seconds"] > 0 for item in listed)
    assert round(sum(item["talk_seconds"] for item in listed), 3) == 12.0

    named = env.client.patch(
        _base(job_id) + "/speakers", json={"SPEAKER_00": " Alice  Smith "}, headers=env.headers
    )
    assert named.status_code == 200, named.text
    assert named.json()["items"][0] == {
        "label": "SPEAKER_00",
        "name": "Alice Smith",
        "talk_seconds": listed[0]["talk_seconds"],
    }
    after = _transcript(env, job_id).json()
    assert after["speakers"] == [
        {"label": "SPEAKER_00", "name": "Alice Smith"},
        {"label": "SPEAKER_01", "name": None},
    ]
    assert after["segments"] == before["segments"] and after["words"] == before["words"]
    assert after["revision"] == 0  # naming is not a correction
    txt = _transcript(env, job_id, "?format=txt").text
    assert txt.startswith("Alice Smith: alpha") and "SPEAKER_01: " in txt
    assert "Alice Smith: " in _transcript(env, job_id, "?format=srt").text
    assert "<v Alice Smith>" in _transcript(env, job_id, "?format=vtt").text
    assert "\tAlice Smith\t" in _transcript(env, job_id, "?format=tsv").text

    cleared = env.client.patch(
        _base(job_id) + "/speakers", json={"SPEAKER_00": None}, headers=env.headers
    )
    assert cleared.json()["items"][0]["name"] is None
    for body, field in (({"SPEAKER_09": "Zed"}, "SPEAKER_09"), ({"SPEAKER_00": 3}, None)):
        bad = env.client.patch(_base(job_id) + "/speakers", json=body, headers=env.headers)
        assert bad.status_code == 422, bad.text
        if field:
            assert bad.json()["error"]["field"] == field
    empty = env.client.patch(_base(job_id) + "/speakers", json={}, headers=env.headers)
    assert empty.status_code == 400


def test_an_edit_makes_revision_one_and_revert_restores_revision_zero_exactly(env: Env) -> None:
    job_id = _diarized(env)
    first = _transcript(env, job_id)
    etag = first.headers["etag"]
    original = first.json()
    segment = original["segments"][0]

    missing = env.client.patch(
        _base(job_id) + "/transcript",
        json={"segments": [{"id": segment["id"], "text": "x"}]},
        headers=env.headers,
    )
    assert missing.status_code == 428
    assert missing.json()["error"]["code"] == "PRECONDITION_REQUIRED"

    corrected = "Alpha, Bravo and a much longer correction"
    edited = env.client.patch(
        _base(job_id) + "/transcript",
        json={"segments": [{"id": segment["id"], "text": corrected, "speaker": "SPEAKER_01"}]},
        headers={**env.headers, "If-Match": etag},
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["revision"] == 1 and edited.headers["etag"] != etag
    changed = body["segments"][0]
    assert changed["text"] == corrected and changed["edited"] is True
    assert changed["speaker"] == "SPEAKER_01"
    assert (changed["start"], changed["end"]) == (segment["start"], segment["end"])
    inside = [w for w in body["words"] if segment["start"] <= w["start"] < segment["end"]]
    assert [w["word"] for w in inside] == corrected.split()
    assert all(segment["start"] <= w["start"] < w["end"] <= segment["end"] for w in inside)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(inside))
    assert all(w["speaker"] == "SPEAKER_01" for w in inside)
    assert body["text"].startswith(corrected)
    assert all(s.get("edited") is None for s in body["segments"][1:])

    stale = env.client.patch(
        _base(job_id) + "/transcript",
        json={"segments": [{"id": segment["id"], "text": "lost update"}]},
        headers={**env.headers, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "PRECONDITION_FAILED"

    # Every rendering follows the current revision; revision 0 stays readable as it was.
    assert corrected in _transcript(env, job_id, "?format=txt").text
    old = _transcript(env, job_id, "?revision=0")
    assert "etag" not in old.headers
    assert {k: v for k, v in old.json().items() if k != "revision"} == {
        k: v for k, v in original.items() if k != "revision"
    }
    assert corrected not in _transcript(env, job_id, "?revision=0&format=txt").text
    assert (
        env.client.get(_base(job_id) + "/transcript?revision=7", headers=env.headers).status_code
        == 404
    )

    revisions = env.client.get(_base(job_id) + "/transcript/revisions", headers=env.headers)
    items = revisions.json()["items"]
    assert [(i["revision"], i["author_id"], i["current"]) for i in items] == [
        (0, None, False),
        (1, env.user_id, True),
    ]
    assert items[1]["created_at"].endswith("Z")

    reverted = env.client.post(_base(job_id) + "/transcript:revert", headers=env.headers)
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["revision"] == 2
    assert {k: v for k, v in reverted.json().items() if k != "revision"} == {
        k: v for k, v in original.items() if k != "revision"
    }
    assert _transcript(env, job_id, "?format=txt").text.startswith("SPEAKER_00: alpha")
    items = env.client.get(_base(job_id) + "/transcript/revisions", headers=env.headers)
    assert items.json()["items"][-1]["reverted_from"] == 0
    again = env.client.post(
        _base(job_id) + "/transcript:revert", json={"revision": 2}, headers=env.headers
    )
    assert again.status_code == 422
    stale_revert = env.client.post(
        _base(job_id) + "/transcript:revert",
        json={"revision": 1},
        headers={**env.headers, "If-Match": etag},
    )
    assert stale_revert.status_code == 412


def test_bad_corrections_are_refused_and_write_nothing(env: Env) -> None:
    job_id = _diarized(env)
    etag = _transcript(env, job_id).headers["etag"]
    headers = {**env.headers, "If-Match": etag}
    cases: list[tuple[Any, int, str | None]] = [
        ({"segments": [{"id": "seg_999999", "text": "x"}]}, 422, "segments[0].id"),
        ({"segments": [{"id": "seg_000001", "text": "   "}]}, 422, "segments[0].text"),
        ({"segments": [{"id": "seg_000001", "speaker": "Bob"}]}, 422, "segments[0].speaker"),
        ({"segments": []}, 422, "segments"),
        ({"segments": [{"id": "seg_000001", "txt": "typo"}]}, 422, None),
        ({"nope": 1}, 422, None),
    ]
    for body, status, field in cases:
        response = env.client.patch(_base(job_id) + "/transcript", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        if field is not None:
            assert response.json()["error"]["field"] == field, body
    malformed = env.client.patch(
        _base(job_id) + "/transcript",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    revisions = env.client.get(_base(job_id) + "/transcript/revisions", headers=env.headers)
    assert len(revisions.json()["items"]) == 1
    assert _transcript(env, job_id).headers["etag"] == etag


def test_a_transcript_without_diarization_has_no_speakers(env: Env) -> None:
    job = env.create(env.fake_file({"text": TEXT}))
    assert env.wait(job["id"])["status"] == "completed"
    body = _transcript(env, job["id"]).json()
    assert "speakers" not in body and "speaker_turns" not in body
    listed = env.client.get(_base(job["id"]) + "/speakers", headers=env.headers)
    assert listed.json() == {"items": []}
    assert _transcript(env, job["id"], "?format=rttm").text == ""


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("?format=srt&max_line_chars=5", 422, "max_line_chars"),
        ("?format=srt&max_lines=0", 422, "max_lines"),
        ("?format=vtt&max_cue_seconds=abc", 422, "max_cue_seconds"),
        ("?format=txt&speakers=maybe", 422, "speakers"),
        ("?format=pdf", 422, "format"),
        ("?format=txt&max_lines=2", 400, "max_lines"),
        ("?format=srt&timestamps=true", 400, "timestamps"),
        ("?speakers=false", 400, "speakers"),
        ("?revision=-1", 422, "revision"),
    ],
)
def test_export_options_are_validated_strictly(
    env: Env, query: str, status: int, field: str
) -> None:
    job_id = _diarized(env)
    response = env.client.get(_base(job_id) + "/transcript" + query, headers=env.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["request_id"]


def test_exports_take_their_options(env: Env) -> None:
    job_id = _diarized(env, " ".join([TEXT] * 4))
    srt = _transcript(env, job_id, "?format=srt&max_line_chars=20&max_lines=1&speakers=false")
    cues = [block.splitlines() for block in srt.text.strip().split("\n\n")]
    assert all(len(cue) == 3 and len(cue[2]) <= 20 for cue in cues)
    assert "SPEAKER" not in srt.text
    joined = " ".join(cue[2] for cue in cues)
    assert joined == " ".join([TEXT] * 4)
    stamped = _transcript(env, job_id, "?format=txt&timestamps=true").text
    assert stamped.startswith("[00:00:00] SPEAKER_00: alpha")
    docx = _transcript(env, job_id, "?format=docx")
    assert docx.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    document = Document(io.BytesIO(docx.content))
    assert document.paragraphs[0].text == "Standup"
    assert "alpha bravo" in "\n".join(p.text for p in document.paragraphs)
    assert _transcript(env, job_id, "?format=tsv").text.startswith("start\tend\tspeaker\ttext\n")
