"""Speaker names and the RTTM export on the real diarized `sample.wav` (real engine, real app)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from docx import Document

from .jobs_support import SAMPLE_WAV, Env, make_env

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with make_env(tmp_path_factory.mktemp("engine-transcripts"), real_engine=True) as built:
        yield built


@pytest.fixture(scope="module")
def diarized(env: Env) -> str:
    submitted = env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("sample.wav", SAMPLE_WAV.read_bytes(), "audio/wav")},
        data={"title": "Two people", "options": '{"diarization": true, "language": "en"}'},
        headers=env.headers,
    )
    assert submitted.status_code == 202, submitted.text
    job_id = str(submitted.json()["id"])
    assert env.wait(job_id, timeout=600)["status"] == "completed"
    return job_id


def _get(env: Env, job_id: str, query: str = "") -> Any:
    response = env.client.get(
        f"/api/v1/transcriptions/{job_id}/transcript{query}", headers=env.headers
    )
    assert response.status_code == 200, response.text
    return response


def test_naming_a_speaker_shows_in_every_rendering_and_keeps_labels(
    env: Env, diarized: str
) -> None:
    before = _get(env, diarized).json()
    labels = {s["speaker"] for s in before["segments"]}
    assert labels == {"SPEAKER_00", "SPEAKER_01"}
    named = env.client.patch(
        f"/api/v1/transcriptions/{diarized}/speakers",
        json={"SPEAKER_00": "Alice"},
        headers=env.headers,
    )
    assert named.status_code == 200, named.text
    items = named.json()["items"]
    assert [(i["label"], i["name"]) for i in items] == [
        ("SPEAKER_00", "Alice"),
        ("SPEAKER_01", None),
    ]
    assert all(0 < i["talk_seconds"] <= 30 for i in items)

    after = _get(env, diarized).json()
    assert after["segments"] == before["segments"] and after["words"] == before["words"]
    assert after["speaker_turns"] == before["speaker_turns"]
    assert {"label": "SPEAKER_00", "name": "Alice"} in after["speakers"]
    alice_first = next(s for s in after["segments"] if s["speaker"] == "SPEAKER_00")["text"]

    txt = _get(env, diarized, "?format=txt").text
    assert f"Alice: {alice_first}" in txt and "SPEAKER_00" not in txt
    srt = _get(env, diarized, "?format=srt").text
    assert "Alice: " in srt and "SPEAKER_00" not in srt
    vtt = _get(env, diarized, "?format=vtt").text
    assert "<v Alice>" in vtt and "SPEAKER_00" not in vtt
    document = Document(io.BytesIO(_get(env, diarized, "?format=docx").content))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Two people"
    assert any(p.startswith("Alice (") for p in paragraphs)
    assert not any("SPEAKER_00" in p for p in paragraphs)
    words = " ".join(" ".join(p.split()) for p in paragraphs)
    assert all(" ".join(s["text"].split()) in words for s in after["segments"])


def test_rttm_export_parses_and_equals_the_speaker_turns(env: Env, diarized: str) -> None:
    transcript = _get(env, diarized).json()
    turns = transcript["speaker_turns"]
    assert len(turns) >= 2 and {t["speaker"] for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    rttm = _get(env, diarized, "?format=rttm")
    parsed = []
    for line in rttm.text.splitlines():
        fields = line.split()
        assert len(fields) == 10 and fields[0] == "SPEAKER" and fields[1] == diarized
        assert fields[2] == "1" and fields[5:7] == ["<NA>", "<NA>"] and fields[8:] == ["<NA>"] * 2
        start, duration = float(fields[3]), float(fields[4])
        assert duration > 0
        parsed.append({"start": start, "end": round(start + duration, 3), "speaker": fields[7]})
    assert parsed == turns
