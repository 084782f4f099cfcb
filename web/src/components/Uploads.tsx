// Uploads in flight: byte progress per file, cancel, and what happened. A small store that the
// tray renders and the new-transcription dialog feeds.

import { useMemo, useSyncExternalStore } from "react";
import type { ApiClient } from "../api/client";
import { describe } from "../api/errors";
import type { FileItem, JobOptions, Transcription } from "../api/types";
import { useApp } from "../context";
import { bytes, percent } from "../lib/format";
import { upload, type UploadHandle } from "../lib/upload";
import type { NewTarget } from "./NewTranscription";

export interface UploadItem {
  id: number;
  name: string;
  loaded: number;
  total: number;
  state: "uploading" | "done" | "failed" | "canceled";
  error?: string;
}

export interface StartUpload {
  file: File;
  title?: string;
  transcribe: boolean; // false: upload the file only
  profileId?: string;
  options?: JobOptions;
}

export interface UploadsApi {
  subscribe: (listener: () => void) => () => void;
  items: () => UploadItem[];
  start: (request: StartUpload) => Promise<Transcription | FileItem | null>;
  cancel: (id: number) => void;
  dismiss: (id: number) => void;
  openDialog: (target: NewTarget) => void;
  onOpenDialog: (listener: (target: NewTarget) => void) => () => void;
}

let seq = 0;

export function createUploads(client: ApiClient, notify: (text: string, kind?: "info" | "error") => void): UploadsApi {
  let items: UploadItem[] = [];
  const listeners = new Set<() => void>();
  const dialogListeners = new Set<(target: NewTarget) => void>();
  const handles = new Map<number, UploadHandle<unknown>>();
  const set = (id: number, change: Partial<UploadItem>) => {
    items = items.map((item) => (item.id === id ? { ...item, ...change } : item));
    listeners.forEach((l) => l());
  };
  const remove = (id: number) => {
    items = items.filter((item) => item.id !== id);
    listeners.forEach((l) => l());
  };
  return {
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    items: () => items,
    start: async (request) => {
      const id = ++seq;
      items = [...items, { id, name: request.file.name, loaded: 0, total: request.file.size, state: "uploading" }];
      listeners.forEach((l) => l());
      const form = new FormData();
      form.append("file", request.file, request.file.name);
      if (request.title) form.append("title", request.title);
      if (request.transcribe && request.profileId) form.append("profile_id", request.profileId);
      if (request.transcribe && request.options && Object.keys(request.options).length) {
        form.append("options", JSON.stringify(request.options));
      }
      const path = request.transcribe ? "/api/v1/transcriptions:submit" : "/api/v1/files";
      const handle = upload<Transcription | FileItem>(client, path, form, (loaded, total) =>
        set(id, { loaded, total: total || request.file.size }),
      );
      handles.set(id, handle);
      try {
        const result = await handle.promise;
        set(id, { state: "done", loaded: request.file.size });
        window.setTimeout(() => remove(id), 4000);
        return result;
      } catch (error) {
        const canceled = items.find((i) => i.id === id)?.state === "canceled";
        if (!canceled) {
          set(id, { state: "failed", error: describe(error) });
          notify(`${request.file.name}: ${describe(error)}`, "error");
        }
        return null;
      } finally {
        handles.delete(id);
      }
    },
    cancel: (id) => {
      set(id, { state: "canceled" });
      handles.get(id)?.cancel();
      window.setTimeout(() => remove(id), 2500);
    },
    dismiss: remove,
    openDialog: (target) => dialogListeners.forEach((l) => l(target)),
    onOpenDialog: (listener) => {
      dialogListeners.add(listener);
      return () => dialogListeners.delete(listener);
    },
  };
}

export function useUploads(client: ApiClient, notify: (text: string, kind?: "info" | "error") => void): UploadsApi {
  return useMemo(() => createUploads(client, notify), [client, notify]);
}

export function UploadTray() {
  const { uploads } = useApp();
  const items = useSyncExternalStore(uploads.subscribe, uploads.items);
  if (!items.length) return null;
  return (
    <section className="tray" aria-label="Uploads">
      <h2 className="visually-hidden">Uploads</h2>
      <ul>
        {items.map((item) => (
          <li key={item.id} className={`upload ${item.state}`}>
            <div className="upload-row">
              <span className="upload-name" title={item.name}>
                {item.name}
              </span>
              {item.state === "uploading" ? (
                <button type="button" className="ghost small" onClick={() => uploads.cancel(item.id)} aria-label={`Cancel upload of ${item.name}`}>
                  Cancel
                </button>
              ) : item.state === "failed" ? (
                <button type="button" className="ghost small" onClick={() => uploads.dismiss(item.id)} aria-label={`Dismiss ${item.name}`}>
                  Dismiss
                </button>
              ) : null}
            </div>
            <progress max={item.total || 1} value={item.loaded} aria-label={`Upload of ${item.name}`} />
            <span className="muted small">
              {item.state === "uploading" && `${bytes(item.loaded)} of ${bytes(item.total)} · ${percent(item.total ? item.loaded / item.total : 0)}`}
              {item.state === "done" && "Uploaded"}
              {item.state === "canceled" && "Upload canceled"}
              {item.state === "failed" && item.error}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
