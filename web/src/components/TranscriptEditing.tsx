// Working on a transcript in the reader: naming speakers inline, correcting a segment's text or
// speaker in place (If-Match; a stale copy is reloaded with a plain message), and the revisions
// panel with revert.

import { useEffect, useRef, useState } from "react";
import { ApiError, describe } from "../api/errors";
import { useApp } from "../context";
import { segmentPatch, speakerPatch } from "../lib/editing";
import { speakerName, speakerSlot, type ReaderModel, type ReaderSegment } from "../lib/transcript";

export const STALE_MESSAGE = "Someone else changed this transcript while you were editing it. It has been reloaded: please make your change again.";

/** Turn an API failure of a save into a plain message; a 412 also reloads. */
export function useSaveFailure(reload: () => Promise<void>): (e: unknown) => void {
  const { notify } = useApp();
  return (e: unknown) => {
    if (e instanceof ApiError && e.status === 412) {
      notify(STALE_MESSAGE, "error");
      void reload();
    } else notify(describe(e), "error");
  };
}

export function SpeakerLegend(props: { jobId: string; model: ReaderModel; names: Record<string, string | null>; onSaved: () => Promise<void> }) {
  const { jobId, model, names, onSaved } = props;
  const { api, notify } = useApp();
  const [editing, setEditing] = useState<string | null>(null);
  const [value, setValue] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<Record<string, HTMLButtonElement | null>>({});
  const open = useRef<string | null>(null); // the label being edited; a save or Escape closes it once
  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  const finish = (label: string) => {
    open.current = null;
    setEditing(null);
    window.setTimeout(() => button.current[label]?.focus(), 0);
  };
  const save = async (label: string) => {
    if (open.current !== label) return;
    open.current = null;
    const before = names[label] ?? "";
    if (value.replace(/\s+/g, " ").trim() === before) return finish(label);
    try {
      await api.request("PATCH", `/api/v1/transcriptions/${jobId}/speakers`, speakerPatch(label, value));
      await onSaved();
      notify("Speaker name saved.");
    } catch (e) {
      notify(describe(e), "error");
    }
    finish(label);
  };

  return (
    <ul className="legend" aria-label="Speakers">
      {[...model.speakers].sort().map((label) => (
        <li key={label} className={`spk-${speakerSlot(model, label)}`}>
          <span className="spk-dot" aria-hidden="true" />
          {editing === label ? (
            <form
              className="speaker-form"
              onSubmit={(e) => {
                e.preventDefault();
                void save(label);
              }}
            >
              <label className="visually-hidden" htmlFor={`spk-name-${label}`}>
                Name for {label}
              </label>
              <input
                id={`spk-name-${label}`}
                ref={input}
                value={value}
                maxLength={200}
                placeholder={speakerName(label, {})}
                onChange={(e) => setValue(e.target.value)}
                onBlur={() => void save(label)}
                onKeyDown={(e) => {
                  if (e.key === "Escape") {
                    e.preventDefault();
                    finish(label);
                  }
                }}
              />
            </form>
          ) : (
            <button
              type="button"
              className="link speaker-name"
              ref={(el) => {
                button.current[label] = el;
              }}
              title="Rename this speaker"
              aria-label={`Rename ${speakerName(label, names)} (${label})`}
              onClick={() => {
                setValue(names[label] ?? "");
                open.current = label;
                setEditing(label);
              }}
            >
              {speakerName(label, names)}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

export function SegmentEditor(props: {
  jobId: string;
  segment: ReaderSegment;
  speakers: string[];
  names: Record<string, string | null>;
  etag: string;
  onDone: () => void;
  onSaved: () => Promise<void>;
}) {
  const { jobId, segment, speakers, names, etag, onDone, onSaved } = props;
  const { api, notify } = useApp();
  const [text, setText] = useState(segment.text);
  const [speaker, setSpeaker] = useState(segment.speaker);
  const [busy, setBusy] = useState(false);
  const failed = useSaveFailure(onSaved);
  const field = `seg-edit-${segment.index}`;

  const save = async () => {
    const body = segmentPatch(segment, text, speaker);
    if (!body) return onDone();
    setBusy(true);
    try {
      await api.request("PATCH", `/api/v1/transcriptions/${jobId}/transcript`, body, true, { "If-Match": etag });
      await onSaved();
      notify("Correction saved.");
      onDone();
    } catch (e) {
      failed(e);
      if (e instanceof ApiError && e.status === 412) onDone();
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="seg-editor"
      onClick={(e) => e.stopPropagation()}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          onDone();
        }
      }}
    >
      <div className="field">
        <label htmlFor={`${field}-text`}>Segment text</label>
        <textarea id={`${field}-text`} value={text} rows={3} autoFocus onChange={(e) => setText(e.target.value)} />
      </div>
      {speakers.length > 0 && (
        <div className="field inline">
          <label htmlFor={`${field}-speaker`}>Speaker</label>
          <select id={`${field}-speaker`} value={speaker ?? ""} onChange={(e) => setSpeaker(e.target.value || null)}>
            {speakers.map((label) => (
              <option key={label} value={label}>
                {speakerName(label, names)}
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="actions start">
        <button type="submit" className="primary small" disabled={busy}>
          Save
        </button>
        <button type="button" className="ghost small" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface Revision {
  revision: number;
  author_id: string | null;
  created_at: string | null;
  current: boolean;
}

export function RevisionsPanel(props: { jobId: string; revision: number; etag: string; onSaved: () => Promise<void> }) {
  const { jobId, revision, etag, onSaved } = props;
  const { api, notify } = useApp();
  const [open, setOpen] = useState(false);
  const [rows, setRows] = useState<Revision[] | null>(null);
  const failed = useSaveFailure(onSaved);

  useEffect(() => {
    if (!open) return;
    let live = true;
    api
      .get<{ items: Revision[] }>(`/api/v1/transcriptions/${jobId}/transcript/revisions`)
      .then((out) => live && setRows(out.items))
      .catch((e) => notify(describe(e), "error"));
    return () => {
      live = false;
    };
  }, [api, jobId, notify, open, revision]);

  const revert = async (target: number) => {
    try {
      await api.request("POST", `/api/v1/transcriptions/${jobId}/transcript:revert`, { revision: target }, true, { "If-Match": etag });
      await onSaved();
      notify(`Revision ${target} is back (as a new revision).`);
    } catch (e) {
      failed(e);
    }
  };

  const author = (id: string | null) => (id === null ? "Transcription engine" : id === api.user?.id ? `${api.user.username} (you)` : `User ${id}`);

  return (
    <details className="revisions card" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Revisions (current: {revision})</summary>
      {rows === null ? (
        <p className="muted small">Loading…</p>
      ) : (
        <ol className="revision-list" aria-label="Revisions">
          {[...rows].reverse().map((row) => (
            <li key={row.revision} data-revision={row.revision}>
              <span>
                <strong>Revision {row.revision}</strong> · {author(row.author_id)} · {row.created_at ? new Date(row.created_at).toLocaleString() : "unknown time"}
              </span>
              {row.current ? (
                <span className="muted small">current</span>
              ) : (
                <button type="button" className="ghost small" onClick={() => void revert(row.revision)} aria-label={`Revert to revision ${row.revision}`}>
                  Revert to this
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </details>
  );
}
