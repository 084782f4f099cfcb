"""Full-text search benchmark: index synthetic transcripts, then query them, on SQLite (FTS5) and
PostgreSQL (tsvector + GIN).

Each database is migrated with the real migrations, gets `--docs` completed transcriptions (4
users, round robin) whose canonical transcript JSON holds about `--words` words in segments of 8
to 20 words, with word timings — the shape the engine stores. Indexing goes through the real
path: the `UPDATE … SET transcript` a completing job makes, whose trigger fills the index, in
transactions of 100. Queries go through `SearchService.search` (SQL + snippets) as one user: a mix
of frequent words (Zipf-distributed vocabulary), rare words, two-word queries, phrases taken from
a transcript and prefixes.

    .venv/bin/python bench/search.py [--docs 10000] [--words 1000] [--queries 300] [--no-postgres]

Prints progress lines, then ONE JSON object on the last line:
`{"index_docs_per_s", "search_p95_ms", "search_p95_ms_postgres", "db_growth_ratio",
"db_growth_ratio_postgres", …}`. `db_growth_ratio` is the SQLite database size divided by its
size without the search tables and indexes (pages counted with `dbstat`); on PostgreSQL the same
with `pg_total_relation_size('search_segments')`. PostgreSQL needs `initdb`/`pg_ctl` (the test
suite's throwaway server); without them its keys are null.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# bench/ holds a `queue.py`; keep it from shadowing the standard library's `queue`, and make the
# repository root importable (for `tests.support.postgres`).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from scriberr.clock import utcnow  # noqa: E402
from scriberr.persistence.database import Database  # noqa: E402
from scriberr.persistence.models import Transcription  # noqa: E402
from scriberr.persistence.search_repository import SearchRepository  # noqa: E402
from scriberr.services.search import SearchService  # noqa: E402

USERS = 4
BATCH = 100
_SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def vocabulary(size: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


class Corpus:
    """Deterministic synthetic transcripts: document n is the same on every call."""

    def __init__(self, words: int, vocab_size: int = 20_000) -> None:
        self.words = words
        self.vocab = vocabulary(vocab_size)
        weights = [1.0 / (rank + 1) for rank in range(len(self.vocab))]  # Zipf
        self.cumulative = list(_accumulate(weights))

    def sample(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.vocab, cum_weights=self.cumulative, k=count)

    def document(self, number: int) -> str:
        rng = random.Random(number)
        tokens = self.sample(rng, self.words)
        segments, words = [], []
        clock, index, seg = 0.0, 0, 0
        while index < len(tokens):
            size = rng.randint(8, 20)
            piece = tokens[index : index + size]
            index += size
            start = clock
            for token in piece:
                length = 0.15 + 0.05 * len(token) / 2
                words.append(
                    {"start": round(clock, 3), "end": round(clock + length, 3), "word": token}
                )
                clock += length + 0.05
            seg += 1
            text_ = " ".join(piece).capitalize() + "."
            segments.append(
                {
                    "id": f"seg_{seg:06d}",
                    "start": round(start, 3),
                    "end": round(clock, 3),
                    "text": text_,
                }
            )
            clock += 0.6
        return json.dumps(
            {
                "text": " ".join(s["text"] for s in segments),
                "language": "en",
                "duration": round(clock, 3),
                "segments": segments,
                "words": words,
                "engine": {"provider": "bench"},
            }
        )


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _rows(start: int, stop: int) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": f"tr_bench{n:08d}",
            "user_id": f"user_{n % USERS}",
            "title": f"Meeting {n}",
            "options": {},
            "status": "completed",
            "progress": 1.0,
            "progress_stage": "completed",
            "diarization": False,
            "created_at": now,
            "updated_at": now,
            "completed_at": now,
        }
        for n in range(start, stop)
    ]


def index(database: Database, corpus: Corpus, docs: int) -> float:
    """Write `docs` transcripts through the completion UPDATE (the index trigger fires); the
    seconds spent in those transactions."""
    spent = 0.0
    for first in range(0, docs, BATCH):
        last = min(docs, first + BATCH)
        with database.write_connection() as connection:
            connection.execute(insert(Transcription), _rows(first, last))
        payload = [
            {"id": f"tr_bench{n:08d}", "doc": corpus.document(n)} for n in range(first, last)
        ]
        began = time.perf_counter()
        with database.write_connection() as connection:
            connection.execute(
                text("UPDATE transcriptions SET transcript = :doc WHERE id = :id"), payload
            )
        spent += time.perf_counter() - began
        if last % 1000 == 0:
            print(f"  indexed {last}/{docs}", file=sys.stderr, flush=True)
    return spent


def queries(corpus: Corpus, count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    result = []
    for number in range(count):
        kind = number % 10
        if kind < 4:
            result.append(corpus.sample(rng, 1)[0])
        elif kind < 6:
            result.append(rng.choice(corpus.vocab))
        elif kind < 8:
            result.append(" ".join(corpus.sample(rng, 2)))
        elif kind == 8:
            document = json.loads(corpus.document(rng.randrange(0, 1000) * USERS))
            segment = rng.choice(document["segments"])
            words = segment["text"].rstrip(".").split()
            first = rng.randrange(0, max(1, len(words) - 3))
            result.append('"' + " ".join(words[first : first + 3]) + '"')
        else:
            result.append(rng.choice(corpus.vocab)[:3] + "*")
    return result


def search_p95(database: Database, corpus: Corpus, count: int) -> tuple[float, float]:
    service = SearchService(SearchRepository(database))
    timings = []
    for query in queries(corpus, count):
        began = time.perf_counter()
        service.search("user_0", query, cursor=None, limit=None)
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return timings[int(0.95 * (len(timings) - 1))], statistics.median(timings)


def sqlite_growth(database: Database) -> float:
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = connection.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        sizes = {name: int(size) for name, size in rows}
    search = sum(size for name, size in sizes.items() if "search" in name)
    total = sum(sizes.values())
    return total / (total - search)


def postgres_growth(database: Database) -> float:
    with database.engine.connect() as connection:
        total = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
        search = connection.execute(
            text("SELECT pg_total_relation_size('search_segments')")
        ).scalar()
    return float(total or 0) / float((total or 0) - (search or 0))


def run_sqlite(corpus: Corpus, docs: int, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scriberr-bench-search-") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'bench.db'}")
        database.migrate()
        print(f"SQLite: indexing {docs} transcripts", file=sys.stderr, flush=True)
        spent = index(database, corpus, docs)
        with database.engine.connect() as connection:
            connection.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
            connection.commit()
        p95, p50 = search_p95(database, corpus, count)
        growth = sqlite_growth(database)
        database.close()
    return {
        "index_docs_per_s": round(docs / spent, 1),
        "search_p95_ms": round(p95, 2),
        "search_p50_ms": round(p50, 2),
        "db_growth_ratio": round(growth, 3),
    }


def run_postgres(corpus: Corpus, docs: int, count: int) -> dict[str, Any]:
    try:
        from tests.support.postgres import postgres_server, unavailable_reason
    except ImportError:
        return {}
    reason = unavailable_reason()
    if reason is not None:
        print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
        return {}
    with postgres_server() as url:
        database = Database(url)
        database.migrate()
        print(f"PostgreSQL: indexing {docs} transcripts", file=sys.stderr, flush=True)
        spent = index(database, corpus, docs)
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
        p95, p50 = search_p95(database, corpus, count)
        growth = postgres_growth(database)
        database.close()
    return {
        "index_docs_per_s_postgres": round(docs / spent, 1),
        "search_p95_ms_postgres": round(p95, 2),
        "search_p50_ms_postgres": round(p50, 2),
        "db_growth_ratio_postgres": round(growth, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    arguments = parser.parse_args()
    corpus = Corpus(arguments.words)
    result: dict[str, Any] = {
        "docs": arguments.docs,
        "words_per_doc": arguments.words,
        "queries": arguments.queries,
        "search_p95_ms_postgres": None,
    }
    result.update(run_sqlite(corpus, arguments.docs, arguments.queries))
    if not arguments.no_postgres:
        result.update(run_postgres(corpus, arguments.docs, arguments.queries))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
