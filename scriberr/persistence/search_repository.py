"""Full-text search SQL over `search_segments` (SQLite FTS5 or PostgreSQL tsvector, migration 0004).

The user's query is never handed to the database's query language as typed: `parse_query` turns
it into terms (words, quoted phrases, `word*` prefixes, `-word` exclusions; every other character
is a separator, bare `AND`/`OR`/`NOT`/`NEAR` are ignored) and each dialect's query string is
built from those terms only, so quotes, operators and stray punctuation can never make a query
fail. Every query is scoped by `user_id`. Hits come newest-indexed first (`id` descending), which
is also the keyset cursor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextualSelect, literal_column, text

from scriberr.persistence.database import Database

MAX_TERMS = 16
MAX_WORD_CHARS = 64
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # lower-case; more than one = a phrase
    prefix: bool = False  # the last word is a prefix
    negated: bool = False


@dataclass(frozen=True)
class SearchHit:
    id: int
    transcription_id: str
    segment_id: str | None
    start: float | None
    text: str


def _words(raw: str) -> tuple[str, ...]:
    return tuple(word.lower()[:MAX_WORD_CHARS] for word in _WORD.findall(raw))


def parse_query(query: str) -> list[Term]:
    """The search terms of a user's query (at most `MAX_TERMS`); see the module docstring."""
    terms: list[Term] = []
    for match in _TOKEN.finditer(query):
        negated_phrase, phrase, bare = match.groups()
        if bare is None:
            words = _words(phrase or "")
            term = Term(words, negated=bool(negated_phrase)) if words else None
        elif bare in _OPERATORS:
            term = None
        else:
            negated = bare.startswith("-") and len(bare) > 1
            body = bare[1:] if negated else bare
            words = _words(body)
            prefix = body.endswith("*") and bool(words)
            term = Term(words, prefix=prefix, negated=negated) if words else None
        if term is not None and term not in terms:
            terms.append(term)
        if len(terms) >= MAX_TERMS:
            break
    return terms


def positive(terms: Sequence[Term]) -> list[Term]:
    return [term for term in terms if not term.negated]


def fts5_query(terms: Sequence[Term]) -> str | None:
    """An FTS5 MATCH string, or None when nothing could match (no positive term)."""

    def quoted(term: Term) -> str:
        return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")

    wanted = [quoted(term) for term in positive(terms)]
    if not wanted:
        return None
    query = "(" + " ".join(wanted) + ")"
    for term in terms:
        if term.negated:
            query += " NOT " + quoted(term)
    return query


def tsquery(terms: Sequence[Term]) -> str | None:
    """A PostgreSQL `to_tsquery('simple', …)` string, or None when nothing could match."""

    def lexemes(term: Term) -> str:
        parts = [f"'{word}'" for word in term.words]
        if term.prefix:
            parts[-1] += ":*"
        joined = " <-> ".join(parts)
        return f"({joined})" if len(parts) > 1 else joined

    if not positive(terms):
        return None
    return " & ".join(("!" if term.negated else "") + lexemes(term) for term in terms)


class SearchRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def search(
        self, user_id: str, terms: Sequence[Term], *, before_id: int | None, limit: int
    ) -> list[SearchHit]:
        """Up to `limit` hits of the user's index rows, ids below `before_id` when given."""
        params: dict[str, object] = {"user": user_id, "limit": limit}
        if before_id is not None:
            params["before"] = before_id
        if self._db.is_sqlite:
            match = fts5_query(terms)
            if match is None:
                return []
            statement = text(
                "SELECT s.id, s.transcription_id, s.segment_id, s.start, s.text "
                "FROM search_fts JOIN search_segments AS s ON s.id = search_fts.rowid "
                "WHERE search_fts MATCH :match AND s.user_id = :user "
                + ("AND search_fts.rowid < :before " if before_id is not None else "")
                + "ORDER BY search_fts.rowid DESC LIMIT :limit"
            )
            params["match"] = match
        else:
            query = tsquery(terms)
            if query is None:
                return []
            # Newest hits in widening id windows (migration 0009 explains why).
            statement = text(
                "SELECT id, transcription_id, segment_id, start, text "
                "FROM scriberr_search_hits(:user, :query, :before, :limit)"
            )
            params["query"] = query
            params.setdefault("before", None)
        with self._db.session() as session:
            rows = session.execute(statement, params).all()
        return [
            SearchHit(
                id=int(row.id),
                transcription_id=row.transcription_id,
                segment_id=row.segment_id,
                start=float(row.start) if row.start is not None else None,
                text=row.text,
            )
            for row in rows
        ]


def text_match_query(is_sqlite: bool, query: str) -> str | None:
    """The dialect's full-text query string for `query`, or None when nothing can match."""
    terms = parse_query(query)
    return fts5_query(terms) if is_sqlite else tsquery(terms)


def matching_transcriptions(is_sqlite: bool) -> TextualSelect:
    """The ids of transcriptions of `:user_id` whose indexed text (transcript or title) matches
    `:text_query` (from `text_match_query`), for the transcription listing."""
    if is_sqlite:
        clause = text(
            "SELECT s.transcription_id FROM search_fts "
            "JOIN search_segments AS s ON s.id = search_fts.rowid "
            "WHERE search_fts MATCH :text_query AND s.user_id = :user_id"
        )
    else:
        clause = text(
            "SELECT transcription_id FROM search_segments "
            "WHERE user_id = :user_id AND tsv @@ to_tsquery('simple', :text_query)"
        )
    return clause.columns(literal_column("transcription_id"))
