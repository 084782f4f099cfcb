"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector + GIN), through the real app with the
real speech engine on the JFK recording: hits, edits, reverts, other users, deletes, hostile
queries, and `GET /transcriptions?q=` matching transcript text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import postgres_server, unavailable_reason

from .jobs_support import FIXTURES, Env, make_env

pytestmark = [pytest.mark.engine, pytest.mark.slow]

JFK = (FIXTURES / "jfk.flac").resolve()
HOSTILE = ['"', "*", "AND OR", "'--", "x" * 5000, "NOT", "(", "a:b", "NEAR(", "-", '"-*"', "\x00"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "sqlite":
        with make_env(tmp_path, real_engine=True) as built:
            yield built
        return
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with (
        postgres_server() as url,
        make_env(tmp_path, real_engine=True, SCRIBERR_DATABASE_URL=url) as built,
    ):
        yield built


def _search(env: Env, q: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = env.client.get(
        "/api/v1/search", params={"q": q, **params}, headers=headers or env.headers
    )
    assert response.status_code == 200, (q[:40], response.text)
    return response.json()


def _listed(env: Env, q: str, headers: dict[str, str] | None = None) -> list[str]:
    response = env.client.get(
        "/api/v1/transcriptions", params={"q": q}, headers=headers or env.headers
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_search_follows_transcripts_edits_reverts_owners_and_deletes(env: Env) -> None:
    submitted = env.client.post(
        "/api/v1/transcriptions:submit",
        files={"file": ("jfk.flac", JFK.read_bytes(), "audio/flac")},
        data={"title": "Inaugural address"},
        headers=env.headers,
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    assert env.wait(job_id, timeout=300)["status"] == "completed"
    base = f"/api/v1/transcriptions/{job_id}/transcript"
    transcript = env.client.get(base, headers=env.headers)
    segments = transcript.json()["segments"]
    with_country = [s for s in segments if "country" in s["text"].lower()]
    assert with_country, segments

    # A word of the transcript: the right segments, their start times, the match marked.
    found = _search(env, "Country")["items"]
    assert {(i["segment_id"], i["start"]) for i in found} == {
        (s["id"], s["start"]) for s in with_country
    }
    assert all(i["transcription_id"] == job_id for i in found)
    assert all("<mark>country</mark>" in i["snippet"].lower() for i in found)
    phrase = _search(env, '"fellow americans"')["items"]
    assert [i["segment_id"] for i in phrase] == [
        s["id"] for s in segments if "fellow americans" in s["text"].lower()
    ]
    assert _search(env, "countr*")["items"] and not _search(env, "country -fellow -ask")["items"]
    title = _search(env, "inaugural")["items"]
    assert title == [
        {
            "transcription_id": job_id,
            "segment_id": None,
            "start": None,
            "snippet": "<mark>Inaugural</mark> address",
        }
    ]
    assert _listed(env, "americans") == [job_id]  # transcript text, not the title
    assert _listed(env, "inaugural") == [job_id]

    # Paging: one hit per page, no hit twice.
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = _search(env, "you", limit=1, **({"cursor": cursor} if cursor else {}))
        seen.extend(i["segment_id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len([s for s in segments if "you" in s["text"].lower()])
    bad_cursor = env.client.get(
        "/api/v1/search", params={"q": "you", "cursor": "zzz"}, headers=env.headers
    )
    assert bad_cursor.status_code == 400

    # A correction: the new word is found, the old one no longer.
    edits = [
        {"id": s["id"], "text": s["text"].replace("country", "homeland")} for s in with_country
    ]
    edited = env.client.patch(
        base,
        json={"segments": edits},
        headers={**env.headers, "If-Match": transcript.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert {i["segment_id"] for i in _search(env, "homeland")["items"]} == {
        s["id"] for s in with_country
    }
    assert _search(env, "country")["items"] == []
    assert _listed(env, "homeland") == [job_id] and _listed(env, "country") == []

    # Another user finds nothing of it.
    _other_id, other = env.second_user()
    assert _search(env, "homeland", other)["items"] == []
    assert _search(env, "inaugural", other)["items"] == []
    assert _listed(env, "homeland", other) == []

    # Hostile queries never fail.
    for query in HOSTILE:
        response = env.client.get("/api/v1/search", params={"q": query}, headers=env.headers)
        assert response.status_code == 200, (query[:20], response.text)
        listed = env.client.get(
            "/api/v1/transcriptions", params={"q": query[:200]}, headers=env.headers
        )
        assert listed.status_code == 200, (query[:20], listed.text)

    # Revert brings the engine's words back into the index.
    reverted = env.client.post(base + ":revert", headers=env.headers)
    assert reverted.status_code == 200, reverted.text
    assert len(_search(env, "country")["items"]) == len(with_country)
    assert _search(env, "homeland")["items"] == []

    # A renamed title is found by its new name only.
    renamed = env.client.patch(
        f"/api/v1/transcriptions/{job_id}", json={"title": "Speech 1961"}, headers=env.headers
    )
    assert renamed.status_code == 200
    assert _search(env, "inaugural")["items"] == []
    assert [i["segment_id"] for i in _search(env, "speech")["items"]] == [None]

    # Deleted: nothing is found any more.
    deleted = env.client.delete(f"/api/v1/transcriptions/{job_id}", headers=env.headers)
    assert deleted.status_code == 204
    assert _search(env, "country")["items"] == []
    assert _search(env, "speech")["items"] == []
    assert _listed(env, "americans") == []
