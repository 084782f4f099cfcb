"""The search index below the API, on SQLite and PostgreSQL: the query parser, migration 0004's
backfill and downgrade, the completion trigger, revisions re-indexing, and hostile input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import insert, inspect, text, update

from scriberr.clock import utcnow
from scriberr.persistence.database import _MIGRATIONS_DIR, Database
from scriberr.persistence.models import Transcription
from scriberr.persistence.search_repository import (
    SearchRepository,
    Term,
    fts5_query,
    parse_query,
    tsquery,
)
from scriberr.persistence.transcript_repository import StaleRevision, TranscriptRepository
from tests.support.postgres import postgres_server, unavailable_reason


def test_queries_are_parsed_into_safe_terms() -> None:
    terms = parse_query('Hello, "fellow  Americans" -tax ask* AND OR \'-- x"y NEAR(')
    assert terms == [
        Term(("hello",)),
        Term(("fellow", "americans")),
        Term(("tax",), negated=True),
        Term(("ask",), prefix=True),
        Term(("x", "y")),  # punctuation inside a word joins its pieces as a phrase
        Term(("near",)),
    ]
    assert fts5_query(terms) == '("hello" "fellow americans" "ask"* "x y" "near") NOT "tax"'
    assert tsquery(terms) == (
        "'hello' & ('fellow' <-> 'americans') & !'tax' & 'ask':* & ('x' <-> 'y') & 'near'"
    )
    for hostile in ('"', "*", "AND OR", "'--", "-", "", "   ", "-only", '"-*"', "_ _"):
        assert fts5_query(parse_query(hostile)) is None, hostile
        assert tsquery(parse_query(hostile)) is None, hostile
    assert len(parse_query(" ".join(f"w{i}" for i in range(100)))) == 16
    assert parse_query("x" * 5000) == [Term(("x" * 64,))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server() as url:
        yield url


def _alembic(database: Database, action: str, target: str) -> None:
    with database.engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        getattr(command, action)(config, target)


def _document(*texts: str) -> str:
    segments = [
        {"id": f"seg_{i + 1:06d}", "start": float(i * 5), "end": float(i * 5 + 4), "text": t}
        for i, t in enumerate(texts)
    ]
    return json.dumps({"text": " ".join(texts), "segments": segments, "words": []})


def _job(job_id: str, user_id: str, title: str, transcript: str | None) -> dict[str, object]:
    now = utcnow()
    return {
        "id": job_id,
        "user_id": user_id,
        "title": title,
        "options": {},
        "status": "completed" if transcript else "queued",
        "progress": 0.0,
        "progress_stage": "queued",
        "diarization": False,
        "transcript": transcript,
        "created_at": now,
        "updated_at": now,
    }


def _found(database: Database, user_id: str, query: str) -> list[tuple[str, str | None]]:
    hits = SearchRepository(database).search(user_id, parse_query(query), before_id=None, limit=50)
    return sorted(
        ((hit.transcription_id, hit.segment_id) for hit in hits),
        key=lambda hit: (hit[0], hit[1] or ""),
    )


def test_index_is_backfilled_by_the_migration_and_follows_every_change(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        database.migrate()
        _alembic(database, "downgrade", "0003")  # to just before 0004
        assert "search_segments" not in inspect(database.engine).get_table_names()
        with database.engine.begin() as connection:
            connection.execute(
                insert(Transcription),
                [
                    _job("tr_old", "user_a", "Budget review", _document("The budget is tight.")),
                    _job("tr_text", "user_a", "Legacy", "plain text, not JSON"),
                    _job("tr_queued", "user_a", "Budget later", None),
                ],
            )
        database.migrate()
        assert _found(database, "user_a", "budget") == [
            ("tr_old", None),
            ("tr_old", "seg_000001"),
        ]

        # A completion (the UPDATE the queue makes) indexes the new transcript in its
        # transaction; a title change and a delete follow too.
        with database.engine.begin() as connection:
            connection.execute(
                update(Transcription)
                .where(Transcription.id == "tr_queued")
                .values(status="completed", transcript=_document("Hello", "Budget talk"))
            )
            connection.execute(
                update(Transcription).where(Transcription.id == "tr_old").values(title="Numbers")
            )
        assert _found(database, "user_a", "budget") == [
            ("tr_old", "seg_000001"),
            ("tr_queued", None),
            ("tr_queued", "seg_000002"),
        ]
        assert _found(database, "user_a", "numbers") == [("tr_old", None)]
        assert _found(database, "user_b", "budget") == []

        documents = TranscriptRepository(database)
        edited = json.loads(_document("Hello", "Forecast talk"))
        assert (
            documents.save(
                "user_a", "tr_queued", expected_revision=0, transcript=edited, author_id="user_a"
            )
            == 1
        )
        with pytest.raises(StaleRevision):
            documents.save(
                "user_a", "tr_queued", expected_revision=0, transcript=edited, author_id="user_a"
            )
        with pytest.raises(StaleRevision):
            documents.save(
                "user_b", "tr_queued", expected_revision=1, transcript=edited, author_id="user_b"
            )
        assert _found(database, "user_a", "forecast") == [("tr_queued", "seg_000002")]
        assert _found(database, "user_a", "budget") == [
            ("tr_old", "seg_000001"),
            ("tr_queued", None),
        ]
        stored = documents.read("user_a", "tr_queued", 0)
        assert stored is not None and "Budget talk" in (stored.transcript_json or "")
        assert documents.read("user_b", "tr_queued") is None

        with database.engine.begin() as connection:
            connection.execute(text("DELETE FROM transcriptions WHERE id = 'tr_queued'"))
        assert _found(database, "user_a", "forecast") == []
        assert _found(database, "user_a", "hello") == []
        with database.engine.connect() as connection:
            revisions = connection.execute(
                text("SELECT count(*) FROM transcript_revisions")
            ).scalar()
        assert revisions == 0
    finally:
        database.close()


def test_paging_through_many_hits_gives_every_match_newest_first(database_url: str) -> None:
    # 40,000 index rows (several of PostgreSQL's search windows) in blocks of 50 per user, with
    # words from every row to one row in ten thousand: each query, paged 50 at a time, must give
    # exactly the caller's matches, newest first, with no gap or repeat at a window's edge.
    database = Database(database_url)
    database.migrate()
    rows = []
    for number in range(40_000):
        words = ["every", f"w{number % 7}"]
        words += ["common"] if number % 3 == 0 else []
        words += ["middling"] if number % 211 == 0 else []
        words += ["scarce"] if number % 9_973 == 0 else []
        words += ["mild"] if number % 1_000 == 500 else []
        rows.append(
            {
                "transcription_id": f"tr_{number // 50}",
                "user_id": "owner" if (number // 50) % 4 else "other",
                "segment_id": f"seg_{number}",
                "start": 0.0,
                "text": " ".join(words),
            }
        )
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO search_segments (transcription_id, user_id, segment_id, start, text) "
                "VALUES (:transcription_id, :user_id, :segment_id, :start, :text)"
            ),
            rows,
        )
        stored = connection.execute(text("SELECT id, user_id, text FROM search_segments")).all()
    mine = sorted((row.id, row.text.split()) for row in stored if row.user_id == "owner")
    expected = {
        "every": [i for i, _ in mine],
        "common": [i for i, words in mine if "common" in words],
        "middling": [i for i, words in mine if "middling" in words],
        "scarce": [i for i, words in mine if "scarce" in words],
        "mi*": [i for i, words in mine if {"middling", "mild"} & set(words)],
        '"w3 common"': [i for i, words in mine if words[1:3] == ["w3", "common"]],
        "middling -common": [
            i for i, words in mine if "middling" in words and "common" not in words
        ],
        "absent": [],
    }
    repository = SearchRepository(database)
    for query, ids in expected.items():
        got: list[int] = []
        before: int | None = None
        while True:
            page = repository.search("owner", parse_query(query), before_id=before, limit=50)
            got += [hit.id for hit in page]
            if len(page) < 50:
                break
            before = page[-1].id
        assert got == sorted(ids, reverse=True), query
        assert ids or query == "absent"
    database.close()
