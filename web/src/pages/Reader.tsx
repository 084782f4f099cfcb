// The transcript reader: player, synced highlight, search, export; while the job runs, its
// live stage and progress; a failed job's error, log and retry.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { describe } from "../api/errors";
import { TERMINAL, type Transcript, type Transcription } from "../api/types";
import { Player } from "../components/Player";
import { RevisionsPanel, SegmentEditor, SpeakerLegend } from "../components/TranscriptEditing";
import { TranscriptView, type TranscriptHandle } from "../components/TranscriptView";
import { useApp } from "../context";
import { clock, percent, stageLabel, STATUS_LABELS } from "../lib/format";
import { linkProps, navigate } from "../lib/router";
import { startFromSearch } from "../lib/editing";
import { buildModel, searchWords, type ReaderSegment } from "../lib/transcript";

const FORMATS = ["txt", "srt", "vtt", "json"] as const;

export function Reader({ id }: { id: string }) {
  const { api, events, notify } = useApp();
  const [job, setJob] = useState<Transcription | null>(null);
  const [transcript, setTranscript] = useState<Transcript | null>(null);
  const [etag, setEtag] = useState("");
  const [error, setError] = useState("");

  const loadJob = useCallback(async () => {
    try {
      const row = await api.get<Transcription>(`/api/v1/transcriptions/${id}`);
      setJob(row);
      if (row.status === "completed") {
        const response = await api.send("GET", `/api/v1/transcriptions/${id}/transcript`);
        const body = (await response.json()) as Transcript;
        setEtag(response.headers.get("etag") ?? "");
        setTranscript(body);
      }
    } catch (e) {
      setError(describe(e));
    }
  }, [api, id]);

  useEffect(() => {
    void loadJob();
  }, [loadJob]);

  useEffect(
    () =>
      events.subscribe((type, data) => {
        if (data.id !== id || !type.startsWith("transcription.")) return;
        setJob((old) => (old && !TERMINAL.has(old.status) ? { ...old, status: data.status, progress: Math.max(old.progress, data.progress ?? 0), progress_stage: data.stage ?? old.progress_stage, error: data.error ?? old.error } : old));
        if (type === "transcription.completed" || type === "transcription.failed" || type === "transcription.canceled") void loadJob();
      }),
    [events, id, loadJob],
  );

  // Also poll gently while running, in case the event stream is reconnecting.
  useEffect(() => {
    if (!job || TERMINAL.has(job.status)) return;
    const t = window.setInterval(() => void loadJob(), 5000);
    return () => window.clearInterval(t);
  }, [job, loadJob]);

  if (error) {
    return (
      <section className="page">
        <p className="error" role="alert">
          {error}
        </p>
        <p>
          <a {...linkProps("/")}>Back to the library</a>
        </p>
      </section>
    );
  }
  if (!job) return <section className="page" aria-busy="true" />;
  const title = job.title || "Untitled";

  const retry = async () => {
    try {
      const out = await api.request<{ id: string }>("POST", `/api/v1/transcriptions/${id}:retry`);
      navigate(`/transcriptions/${out.id}`);
    } catch (e) {
      notify(describe(e), "error");
    }
  };

  return (
    <section className="page reader">
      <div className="page-head">
        <div>
          <a className="back small" {...linkProps("/")}>
            ← Library
          </a>
          <h1>{title}</h1>
        </div>
      </div>
      {job.status === "completed" && transcript ? (
        <ReaderBody job={job} transcript={transcript} etag={etag} reload={loadJob} />
      ) : job.status === "failed" || job.status === "canceled" ? (
        <FailedJob job={job} onRetry={retry} />
      ) : job.status === "completed" ? (
        <p className="muted">Loading the transcript…</p>
      ) : (
        <RunningJob job={job} />
      )}
    </section>
  );
}

function RunningJob({ job }: { job: Transcription }) {
  const { api, notify } = useApp();
  return (
    <div className="card running" aria-live="polite">
      <p className="stage">
        <strong>{stageLabel(job.progress_stage)}</strong> <span className="muted">{percent(job.progress)}</span>
      </p>
      <progress max={1} value={job.progress} aria-label="Transcription progress" />
      <p className="muted small">The transcript appears here as soon as it is ready.</p>
      <div className="actions start">
        <button
          type="button"
          className="ghost"
          onClick={() => api.request("POST", `/api/v1/transcriptions/${job.id}:cancel`).catch((e) => notify(describe(e), "error"))}
        >
          Cancel transcription
        </button>
      </div>
    </div>
  );
}

function FailedJob({ job, onRetry }: { job: Transcription; onRetry: () => void }) {
  const { api } = useApp();
  const [log, setLog] = useState<string | null>(null);
  useEffect(() => {
    api
      .get<string>(`/api/v1/transcriptions/${job.id}/logs`)
      .then((text) => setLog(String(text)))
      .catch(() => setLog(""));
  }, [api, job.id]);
  return (
    <div className="card failed">
      <h2>{job.status === "failed" ? "This transcription failed" : "This transcription was canceled"}</h2>
      {job.error && <p className="error">{job.error}</p>}
      <div className="actions start">
        <button type="button" className="primary" onClick={onRetry}>
          Retry
        </button>
      </div>
      <details open={job.status === "failed"}>
        <summary>Job log</summary>
        <pre className="log">{log === null ? "Loading…" : log || "No log lines."}</pre>
      </details>
    </div>
  );
}

function ReaderBody({ job, transcript, etag, reload }: { job: Transcription; transcript: Transcript; etag: string; reload: () => Promise<void> }) {
  const { api, notify } = useApp();
  const model = useMemo(() => buildModel(transcript), [transcript]);
  const names = useMemo(() => Object.fromEntries((transcript.speakers ?? []).map((s) => [s.label, s.name])), [transcript]);
  const audio = useRef<HTMLAudioElement | null>(null);
  const view = useRef<TranscriptHandle>(null);
  const [follow, setFollow] = useState(true);
  const [highlight, setHighlight] = useState(true);
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState(0);
  const [src, setSrc] = useState("");
  const [format, setFormat] = useState<(typeof FORMATS)[number]>("srt");
  const lastTokenAt = useRef(0);
  const [editing, setEditing] = useState<string | null>(null);
  const startAt = useRef(startFromSearch(window.location.search));

  const newSource = useCallback(async () => {
    lastTokenAt.current = Date.now();
    try {
      const token = await api.streamToken();
      setSrc(`/api/v1/transcriptions/${job.id}/audio?stream_token=${encodeURIComponent(token)}`);
    } catch (e) {
      notify(describe(e), "error");
    }
  }, [api, job.id, notify]);

  useEffect(() => {
    void newSource();
  }, [newSource]);

  // Stream tokens expire after a few minutes: on a load error, resume with a fresh one.
  const onAudioError = () => {
    const el = audio.current;
    if (!el || Date.now() - lastTokenAt.current < 10000) return;
    const at = el.currentTime;
    const wasPlaying = !el.paused;
    void newSource().then(() => {
      const resume = () => {
        el.currentTime = at;
        if (wasPlaying) void el.play().catch(() => undefined);
        el.removeEventListener("loadedmetadata", resume);
      };
      el.addEventListener("loadedmetadata", resume);
    });
  };

  // Highlight loop: every animation frame while playing, once on seek/pause.
  useEffect(() => {
    const el = audio.current;
    if (!el || !highlight) {
      view.current?.highlightAt(-1);
      return;
    }
    let frame = 0;
    const tick = () => {
      view.current?.highlightAt(el.currentTime);
      if (!el.paused) frame = requestAnimationFrame(tick);
    };
    const start = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(tick);
    };
    const names = ["play", "seeked", "timeupdate", "pause"];
    names.forEach((n) => el.addEventListener(n, start));
    return () => {
      cancelAnimationFrame(frame);
      names.forEach((n) => el.removeEventListener(n, start));
    };
  }, [highlight, src]);

  // Opened from a search hit (`?t=`): start there, and show that segment.
  useEffect(() => {
    const el = audio.current;
    const at = startAt.current;
    if (!el || at === null || !src) return;
    const segment = model.segments.findIndex((s) => s.end > at);
    if (segment >= 0) view.current?.scrollToSegment(segment);
    const go = () => {
      if (startAt.current === null) return;
      el.currentTime = at;
      startAt.current = null;
      el.removeEventListener("loadedmetadata", go);
    };
    if (el.readyState >= 1) go();
    else el.addEventListener("loadedmetadata", go);
    return () => el.removeEventListener("loadedmetadata", go);
  }, [src, model]);

  // Closing the editor puts keyboard focus back on the segment's Edit button.
  const closeEditor = useCallback((index: number) => {
    setEditing(null);
    window.setTimeout(() => document.querySelector<HTMLElement>(`[data-seg="${index}"] .seg-edit`)?.focus(), 0);
  }, []);

  const extras = useCallback(
    (segment: ReaderSegment) =>
      editing === segment.id ? (
        <SegmentEditor jobId={job.id} segment={segment} speakers={[...model.speakers].sort()} names={names} etag={etag} onDone={() => closeEditor(segment.index)} onSaved={reload} />
      ) : (
        <button type="button" className="ghost small seg-edit" aria-label={`Edit segment at ${clock(segment.start)}`} onClick={(e) => (e.stopPropagation(), setEditing(segment.id))}>
          Edit
        </button>
      ),
    [editing, job.id, model, names, etag, reload, closeEditor],
  );

  // A measuring hook for bench/web.py: one highlight update, exactly as playback runs it.
  useEffect(() => {
    const w = window as unknown as { scriberrHighlightAt?: (t: number) => number };
    w.scriberrHighlightAt = (t: number) => view.current?.highlightAt(t) ?? -1;
    return () => {
      delete w.scriberrHighlightAt;
    };
  }, []);

  const matches = useMemo(() => searchWords(model, query), [model, query]);
  useEffect(() => setCurrent(0), [query]);
  useEffect(() => {
    if (matches.length) view.current?.scrollToSegment(matches[Math.min(current, matches.length - 1)].segment);
  }, [matches, current]);
  const step = (d: number) => matches.length && setCurrent((c) => (c + d + matches.length) % matches.length);

  const seek = useCallback((time: number) => {
    const el = audio.current;
    if (!el) return;
    el.currentTime = time;
  }, []);

  const download = async () => {
    try {
      const response = await api.send("GET", `/api/v1/transcriptions/${job.id}/transcript?format=${format}`);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `${safeName(job.title || job.id)}.${format}`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      notify(describe(e), "error");
    }
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(transcript.text);
      notify("Transcript copied.");
    } catch {
      notify("The browser did not allow copying. Select the text and copy it instead.", "error");
    }
  };

  return (
    <div className="reader-body">
      <div className="reader-tools">
        <div className="field inline search-box">
          <label htmlFor="tx-search">Find</label>
          <input
            id="tx-search"
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                step(e.shiftKey ? -1 : 1);
              }
            }}
          />
          <span className="small muted match-count" aria-live="polite">
            {query ? (matches.length ? `${current + 1} of ${matches.length}` : "No matches") : ""}
          </span>
          <button type="button" className="ghost small" disabled={!matches.length} onClick={() => step(-1)} aria-label="Previous match">
            ↑
          </button>
          <button type="button" className="ghost small" disabled={!matches.length} onClick={() => step(1)} aria-label="Next match">
            ↓
          </button>
        </div>
        <div className="field inline">
          <label htmlFor="export-format">Export</label>
          <select id="export-format" value={format} onChange={(e) => setFormat(e.target.value as (typeof FORMATS)[number])}>
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {f.toUpperCase()}
              </option>
            ))}
          </select>
          <button type="button" className="small" onClick={download}>
            Download
          </button>
          <button type="button" className="ghost small" onClick={copy}>
            Copy text
          </button>
        </div>
        <div className="toggles">
          <div className="field check">
            <input id="hl" type="checkbox" checked={highlight} onChange={(e) => setHighlight(e.target.checked)} />
            <label htmlFor="hl">Highlight spoken word</label>
          </div>
          <div className="field check">
            <input id="follow" type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            <label htmlFor="follow">Follow playback</label>
          </div>
        </div>
      </div>
      {model.speakers.length > 0 && <SpeakerLegend jobId={job.id} model={model} names={names} onSaved={reload} />}
      <RevisionsPanel jobId={job.id} revision={transcript.revision ?? 0} etag={etag} onSaved={reload} />
      {model.segments.length ? (
        <TranscriptView ref={view} model={model} follow={follow} onSeek={seek} matches={matches} currentMatch={current} speakerNames={names} renderSegmentExtras={extras} />
      ) : (
        <p className="muted empty">No speech was found in this recording.</p>
      )}
      <p className="small muted meta-line">
        {transcript.language ? `Language: ${transcript.language} · ` : ""}
        {model.words.length.toLocaleString()} words · {clock(transcript.duration ?? null)} · Shortcuts: Space or K play/pause, J/L or ←/→ skip 5 s, [ ] speed
      </p>
      {src && <Player audio={audio} src={src} onError={onAudioError} />}
      <span className="visually-hidden">{STATUS_LABELS[job.status]}</span>
    </div>
  );
}

function safeName(name: string): string {
  return name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, "_").slice(0, 120) || "transcript";
}
