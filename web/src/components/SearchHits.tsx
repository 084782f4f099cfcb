// Full-text search across every transcript (GET /api/v1/search): each hit shows its transcript,
// time and snippet (the match marked, rendered as text — never as HTML) and opens the reader
// at the hit's time.

import { useEffect, useState } from "react";
import { describe } from "../api/errors";
import { useApp } from "../context";
import { hitUrl, snippetParts } from "../lib/editing";
import { clock } from "../lib/format";
import { linkProps } from "../lib/router";

interface Hit {
  transcription_id: string;
  segment_id: string | null;
  start: number | null;
  snippet: string;
}

export function SearchHits({ q, titles }: { q: string; titles: Record<string, string | null> }) {
  const { api } = useApp();
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    let live = true;
    setHits(null);
    setError("");
    api
      .get<{ items: Hit[] }>(`/api/v1/search?q=${encodeURIComponent(q)}&limit=50`)
      .then((page) => live && setHits(page.items))
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, q]);

  return (
    <section className="search-hits card" aria-label="Matches in transcripts" aria-busy={hits === null && !error}>
      <h2 className="small-heading">Matches in transcripts</h2>
      {error ? (
        <p className="error">{error}</p>
      ) : hits === null ? (
        <p className="muted small">Searching…</p>
      ) : hits.length === 0 ? (
        <p className="muted small">No transcript contains “{q}”.</p>
      ) : (
        <ul className="hit-list">
          {hits.map((hit) => (
            <li key={`${hit.transcription_id}-${hit.segment_id ?? "title"}`}>
              <a className="hit" data-start={hit.start ?? ""} {...linkProps(hitUrl(hit.transcription_id, hit.start))}>
                <span className="hit-head">
                  <strong>{titles[hit.transcription_id] || "Untitled"}</strong>
                  <span className="muted small">{hit.start === null ? " · title" : ` · ${clock(hit.start)}`}</span>
                </span>
                <span className="hit-snippet">
                  {snippetParts(hit.snippet).map((part, i) => (part.marked ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
