// The caller's global event stream (SSE) with a stream token; reconnects with a fresh token
// when the connection drops (tokens live five minutes, EventSource cannot set headers).

import type { ApiClient } from "../api/client";
import type { JobEvent } from "../api/types";

export type EventHandler = (type: string, data: JobEvent & Record<string, unknown>) => void;

const TYPES = [
  "file.ready",
  "file.failed",
  "transcription.queued",
  "transcription.updated",
  "transcription.progress",
  "transcription.completed",
  "transcription.failed",
  "transcription.canceled",
];

export class EventStream {
  private source: EventSource | null = null;
  private handlers = new Set<EventHandler>();
  private stopped = true;
  private retryMs = 1000;
  private timer: number | undefined;

  constructor(private readonly client: ApiClient) {}

  subscribe(handler: EventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let token: string;
    try {
      token = await this.client.streamToken();
    } catch {
      this.schedule();
      return;
    }
    if (this.stopped) return;
    const source = new EventSource(`/api/v1/events?stream_token=${encodeURIComponent(token)}`);
    this.source = source;
    source.onopen = () => {
      this.retryMs = 1000;
    };
    source.onerror = () => {
      source.close();
      if (this.source === source) this.source = null;
      this.schedule();
    };
    for (const type of TYPES) {
      source.addEventListener(type, (e) => {
        let data: JobEvent & Record<string, unknown>;
        try {
          data = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          return;
        }
        for (const handler of this.handlers) handler(type, data);
      });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 15000);
  }
}
