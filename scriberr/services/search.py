"""Full-text search over the caller's transcripts (current revisions) and titles: `GET /search`.

The query is forgiving (see `persistence.search_repository.parse_query`): any text gives an answer,
never an error. Hits come newest first with an opaque keyset cursor. The snippet is HTML-safe:
the segment text (or title) escaped, trimmed around the first match, with every matched word
wrapped in `<mark>…</mark>`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scriberr.persistence.search_repository import SearchRepository, Term, parse_query, positive
from scriberr.services.errors import InvalidRequest
from scriberr.services.pagination import Page, clamp_limit

SNIPPET_CHARS = 160
MAX_QUERY_CHARS = 10_000


@dataclass(frozen=True)
class SearchItem:
    transcription_id: str
    segment_id: str | None  # None: the match is in the title
    start: float | None
    snippet: str


class SearchService:
    def __init__(self, repository: SearchRepository) -> None:
        self._repo = repository

    def search(
        self, user_id: str, query: str, *, cursor: str | None, limit: int | None
    ) -> Page[SearchItem]:
        size = clamp_limit(limit)
        before = _decode_cursor(cursor)
        terms = parse_query(query[:MAX_QUERY_CHARS])
        hits = self._repo.search(user_id, terms, before_id=before, limit=size + 1)
        pattern = match_pattern(terms)
        items = [
            SearchItem(
                transcription_id=hit.transcription_id,
                segment_id=hit.segment_id,
                start=hit.start,
                snippet=snippet(hit.text, pattern),
            )
            for hit in hits[:size]
        ]
        more = len(hits) > size
        return Page(items=items, next_cursor=f"s{hits[size - 1].id}" if more else None)


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.startswith("s") or not cursor[1:].isdigit() or len(cursor) > 20:
        raise InvalidRequest("cursor is not valid.", field="cursor")
    return int(cursor[1:])


def match_pattern(terms: Sequence[Term]) -> re.Pattern[str] | None:
    """A regex finding the query's (positive) words in a text, whole words or prefixes."""
    words = {
        (word, term.prefix and index == len(term.words) - 1)
        for term in positive(terms)
        for index, word in enumerate(term.words)
    }
    if not words:
        return None
    parts = sorted(
        (re.escape(word) + (r"[^\W_]*" if prefix else "") for word, prefix in words),
        key=len,
        reverse=True,
    )
    return re.compile(r"(?<![^\W_])(?:" + "|".join(parts) + r")(?![^\W_])", re.IGNORECASE)


def snippet(text: str, pattern: re.Pattern[str] | None) -> str:
    """The text around the first match, escaped, with matches marked (see module docstring)."""
    clean = " ".join(text.split())
    first = pattern.search(clean) if pattern is not None else None
    begin = 0
    if first is not None and len(clean) > SNIPPET_CHARS:
        begin = max(0, first.start() - SNIPPET_CHARS // 3)
        space = clean.rfind(" ", 0, begin)
        begin = space + 1 if begin > 0 and space >= 0 else begin
    end = min(len(clean), begin + SNIPPET_CHARS)
    if end < len(clean):
        space = clean.rfind(" ", begin, end)
        end = space if space > begin else end
    window = clean[begin:end]
    marked = []
    position = 0
    for match in pattern.finditer(window) if pattern is not None else ():
        marked.append(html.escape(window[position : match.start()], quote=False))
        marked.append("<mark>" + html.escape(match.group(0), quote=False) + "</mark>")
        position = match.end()
    marked.append(html.escape(window[position:], quote=False))
    return ("…" if begin > 0 else "") + "".join(marked) + ("…" if end < len(clean) else "")
