// The library: transcriptions and files with live progress, search, filters, sort and paging,
// plus the ways to add audio (picker, drop, microphone, URL).

import { useCallback, useEffect, useId, useRef, useState } from "react";
import { describe } from "../api/errors";
import type { FileItem, Page, Transcription } from "../api/types";
import { Confirm } from "../components/Dialog";
import { ImportDialog } from "../components/ImportDialog";
import { RecordDialog } from "../components/Recorder";
import { SearchHits } from "../components/SearchHits";
import { useApp } from "../context";
import { bytes, clock, percent, relativeTime, stageLabel, STATUS_LABELS } from "../lib/format";
import { applyEvent, filesPath, transcriptionsPath, type LibraryQuery } from "../lib/library";
import { linkProps } from "../lib/router";

type Tab = "transcriptions" | "files";

export function Library() {
  const { api, events, uploads, notify } = useApp();
  const id = useId();
  const [tab, setTab] = useState<Tab>("transcriptions");
  const [query, setQuery] = useState<LibraryQuery>({ q: "", status: "", sort: "-created_at" });
  const [search, setSearch] = useState("");
  const [rows, setRows] = useState<Transcription[]>([]);
  const [files, setFiles] = useState<FileItem[]>([]);
  const [durations, setDurations] = useState<Record<string, number | null>>({});
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [confirm, setConfirm] = useState<{ title: string; text: string; run: () => Promise<void> } | null>(null);
  const [dialog, setDialog] = useState<"record" | "import" | null>(null);
  const generation = useRef(0);

  const loadDurations = useCallback(async () => {
    try {
      const page = await api.get<Page<FileItem>>("/api/v1/files?limit=200&sort=-created_at");
      setDurations((d) => ({ ...d, ...Object.fromEntries(page.items.map((f) => [f.id, f.duration_seconds])) }));
    } catch {
      /* durations are a nicety */
    }
  }, [api]);

  const load = useCallback(
    async (more: string | null = null) => {
      const gen = more ? generation.current : ++generation.current;
      setLoading(true);
      setError("");
      try {
        if (tab === "transcriptions") {
          const page = await api.get<Page<Transcription>>(transcriptionsPath(query, more));
          if (gen !== generation.current) return;
          setRows((old) => (more ? [...old, ...page.items] : page.items));
          setCursor(page.next_cursor);
        } else {
          const fq = { ...query, status: ["uploaded", "processing", "ready", "failed"].includes(query.status) ? query.status : "" };
          const page = await api.get<Page<FileItem>>(filesPath(fq, more));
          if (gen !== generation.current) return;
          setFiles((old) => (more ? [...old, ...page.items] : page.items));
          setCursor(page.next_cursor);
        }
      } catch (e) {
        if (gen === generation.current) setError(describe(e));
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [api, query, tab],
  );

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    void loadDurations();
  }, [loadDurations]);
  useEffect(() => {
    const t = window.setTimeout(() => setQuery((q) => (q.q === search ? q : { ...q, q: search })), 250);
    return () => window.clearTimeout(t);
  }, [search]);

  const reloadSoon = useRef<number | undefined>(undefined);
  useEffect(
    () =>
      events.subscribe((type, data) => {
        if (type.startsWith("transcription.")) {
          let known = false;
          setRows((old) => {
            known = old.some((r) => r.id === data.id);
            return applyEvent(old, data);
          });
          if (type === "transcription.queued" || (!known && type === "transcription.updated")) {
            window.clearTimeout(reloadSoon.current);
            reloadSoon.current = window.setTimeout(() => {
              void load();
              void loadDurations();
            }, 300);
          }
        } else if (type.startsWith("file.")) {
          window.clearTimeout(reloadSoon.current);
          reloadSoon.current = window.setTimeout(() => {
            void loadDurations();
            if (tab === "files") void load();
          }, 300);
        }
      }),
    [events, load, loadDurations, tab],
  );

  const act = async (run: () => Promise<unknown>, done: string) => {
    try {
      await run();
      notify(done);
      await load();
    } catch (e) {
      notify(describe(e), "error");
    }
  };

  const pick = (e: React.ChangeEvent<HTMLInputElement>) => {
    const chosen = Array.from(e.target.files ?? []);
    e.target.value = "";
    if (chosen.length) uploads.openDialog({ files: chosen });
  };

  const statuses = tab === "transcriptions" ? ["queued", "processing", "completed", "failed", "canceled"] : ["processing", "ready", "failed"];
  const empty = !loading && !error && (tab === "transcriptions" ? rows.length === 0 : files.length === 0);

  return (
    <section className="page library">
      <div className="page-head">
        <h1>Library</h1>
        <div className="add-actions">
          <label className="button primary file-button">
            <input type="file" multiple accept="audio/*,video/*" onChange={pick} className="file-input" aria-label="Add audio files" />
            <span aria-hidden="true">+</span> Add files
          </label>
          <button type="button" onClick={() => setDialog("record")}>
            <span aria-hidden="true">●</span> Record
          </button>
          <button type="button" onClick={() => setDialog("import")}>
            Import URL
          </button>
        </div>
      </div>
      <p className="muted hint">Tip: drop audio or video files anywhere on this page.</p>

      <div className="tabs" role="tablist" aria-label="Library view">
        {(["transcriptions", "files"] as Tab[]).map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={tab === t}
            className={tab === t ? "tab active" : "tab"}
            onClick={() => {
              setTab(t);
              setQuery((q) => ({ ...q, status: "" }));
            }}
          >
            {t === "transcriptions" ? "Transcriptions" : "Files"}
          </button>
        ))}
      </div>

      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field grow">
          <label htmlFor={`${id}-q`}>Search</label>
          <input id={`${id}-q`} type="search" placeholder={tab === "transcriptions" ? "Titles and transcript text" : "Titles"} value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select id={`${id}-status`} value={query.status} onChange={(e) => setQuery({ ...query, status: e.target.value })}>
            <option value="">All</option>
            {statuses.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-sort`}>Sort</label>
          <select id={`${id}-sort`} value={query.sort} onChange={(e) => setQuery({ ...query, sort: e.target.value })}>
            <option value="-created_at">Newest first</option>
            <option value="created_at">Oldest first</option>
            <option value="-updated_at">Recently updated</option>
            <option value="title">Title A–Z</option>
            <option value="-title">Title Z–A</option>
          </select>
        </div>
      </form>

      {tab === "transcriptions" && query.q.trim() && <SearchHits q={query.q.trim()} titles={Object.fromEntries(rows.map((r) => [r.id, r.title]))} />}

      {error && (
        <p className="error" role="alert">
          {error}{" "}
          <button type="button" className="ghost small" onClick={() => void load()}>
            Try again
          </button>
        </p>
      )}
      {empty && (
        <div className="empty">
          <p>{query.q || query.status ? "Nothing matches these filters." : "Nothing here yet. Add a recording to get started."}</p>
        </div>
      )}

      {tab === "transcriptions" ? (
        <ul className="items" aria-label="Transcriptions" aria-busy={loading}>
          {rows.map((row) => (
            <TranscriptionRow
              key={row.id}
              row={row}
              duration={row.duration_seconds ?? (row.file_id ? durations[row.file_id] : null)}
              onCancel={() => act(() => api.request("POST", `/api/v1/transcriptions/${row.id}:cancel`), "Canceled.")}
              onRetry={() => act(() => api.request("POST", `/api/v1/transcriptions/${row.id}:retry`), "Started again.")}
              onDelete={() =>
                setConfirm({
                  title: "Delete transcription?",
                  text: `“${row.title ?? "Untitled"}” and its transcript will be deleted. This cannot be undone.`,
                  run: () => act(() => api.request("DELETE", `/api/v1/transcriptions/${row.id}`), "Deleted."),
                })
              }
            />
          ))}
        </ul>
      ) : (
        <ul className="items" aria-label="Files" aria-busy={loading}>
          {files.map((file) => (
            <li key={file.id} className="item" data-status={file.status}>
              <div className="item-main">
                <span className="item-title">{file.title}</span>
                <span className="meta">
                  <span className={`badge ${file.status}`}>{STATUS_LABELS[file.status] ?? file.status}</span>
                  <span>{clock(file.duration_seconds)}</span>
                  <span>{bytes(file.size_bytes)}</span>
                  <span>{file.kind === "youtube" ? "Imported" : file.kind === "video" ? "Video" : "Audio"}</span>
                  <time dateTime={file.created_at}>{relativeTime(file.created_at)}</time>
                </span>
                {file.status === "failed" && file.error && <span className="error small">{file.error}</span>}
              </div>
              <div className="item-actions">
                {file.status === "ready" && (
                  <button type="button" className="small" onClick={() => uploads.openDialog({ fileId: file.id, title: file.title })}>
                    Transcribe
                  </button>
                )}
                <button
                  type="button"
                  className="ghost small"
                  aria-label={`Delete ${file.title}`}
                  onClick={() =>
                    setConfirm({
                      title: "Delete file?",
                      text: `“${file.title}”, its audio and all its transcriptions will be deleted. This cannot be undone.`,
                      run: () => act(() => api.request("DELETE", `/api/v1/files/${file.id}`), "Deleted."),
                    })
                  }
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <div className="more">
          <button type="button" disabled={loading} onClick={() => void load(cursor)}>
            Load more
          </button>
        </div>
      )}

      {confirm && <Confirm title={confirm.title} text={confirm.text} action="Delete" onConfirm={() => void confirm.run()} onClose={() => setConfirm(null)} />}
      {dialog === "record" && <RecordDialog onClose={() => setDialog(null)} />}
      {dialog === "import" && <ImportDialog onClose={() => setDialog(null)} onImported={() => setTab("files")} />}
    </section>
  );
}

function TranscriptionRow(props: {
  row: Transcription;
  duration: number | null | undefined;
  onCancel: () => void;
  onRetry: () => void;
  onDelete: () => void;
}) {
  const { row } = props;
  const title = row.title || "Untitled";
  const running = row.status === "queued" || row.status === "processing";
  return (
    <li className="item" data-status={row.status} data-id={row.id}>
      <div className="item-main">
        <a className="item-title" {...linkProps(`/transcriptions/${row.id}`)}>
          {title}
        </a>
        <span className="meta">
          <span className={`badge ${row.status}`}>{STATUS_LABELS[row.status] ?? row.status}</span>
          <span aria-label="Duration">{clock(props.duration)}</span>
          <time dateTime={row.created_at}>{relativeTime(row.created_at)}</time>
          {row.diarization && <span>Speakers</span>}
        </span>
        {running && (
          <div className="progress-line">
            <progress max={1} value={row.progress} aria-label={`Progress of ${title}`} />
            <span className="small muted">
              {stageLabel(row.progress_stage)} · {percent(row.progress)}
            </span>
          </div>
        )}
        {row.status === "failed" && row.error && <span className="error small">{row.error}</span>}
      </div>
      <div className="item-actions">
        {running && (
          <button type="button" className="ghost small" onClick={props.onCancel} aria-label={`Cancel ${title}`}>
            Cancel
          </button>
        )}
        {!running && row.status !== "completed" && (
          <button type="button" className="ghost small" onClick={props.onRetry} aria-label={`Retry ${title}`}>
            Retry
          </button>
        )}
        <button type="button" className="ghost small" onClick={props.onDelete} aria-label={`Delete ${title}`}>
          Delete
        </button>
      </div>
    </li>
  );
}
