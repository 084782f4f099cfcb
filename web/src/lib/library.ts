// Library list logic: query strings, and applying live job events to the loaded rows.

import type { JobEvent, Transcription } from "../api/types";

export interface LibraryQuery {
  q: string;
  status: string; // "" = all
  sort: string;
}

export function transcriptionsPath(query: LibraryQuery, cursor: string | null, limit = 50): string {
  const params = new URLSearchParams();
  if (query.q.trim()) params.set("q", query.q.trim());
  if (query.status) params.set("status", query.status);
  if (query.sort) params.set("sort", query.sort);
  if (cursor) params.set("cursor", cursor);
  params.set("limit", String(limit));
  return `/api/v1/transcriptions?${params.toString()}`;
}

export function filesPath(query: LibraryQuery, cursor: string | null, limit = 50): string {
  const params = new URLSearchParams();
  if (query.q.trim()) params.set("q", query.q.trim());
  if (query.status) params.set("status", query.status);
  if (query.sort) params.set("sort", query.sort);
  if (cursor) params.set("cursor", cursor);
  params.set("limit", String(limit));
  return `/api/v1/files?${params.toString()}`;
}

const ORDER: Record<string, number> = { queued: 0, processing: 1, completed: 2, failed: 2, canceled: 2 };

/** Rows with `event` applied; the same array when no row changes. Progress never moves
 * backwards within one status, and a terminal status is never undone by a late event. */
export function applyEvent(rows: Transcription[], event: JobEvent): Transcription[] {
  const i = rows.findIndex((r) => r.id === event.id);
  if (i < 0 || !event.status) return rows;
  const row = rows[i];
  if ((ORDER[row.status] ?? 0) > (ORDER[event.status] ?? 0)) return rows;
  if (ORDER[row.status] === 2 && row.status !== event.status) {
    return rows; // terminal already
  }
  const progress = row.status === event.status ? Math.max(row.progress, event.progress ?? 0) : event.progress ?? row.progress;
  const next: Transcription = {
    ...row,
    status: event.status,
    progress,
    progress_stage: event.stage ?? row.progress_stage,
    error: event.error ?? row.error,
  };
  if (next.status === row.status && next.progress === row.progress && next.progress_stage === row.progress_stage && next.error === row.error) return rows;
  const copy = rows.slice();
  copy[i] = next;
  return copy;
}
