// The API client: the access token lives only in this module's memory; the refresh token is an
// httpOnly cookie the browser sends to /api/v1/auth/refresh. A 401 triggers one silent refresh.

import { ApiError, errorFromBody, networkError } from "./errors";
import type { Tokens, User } from "./types";

type Listener = (user: User | null) => void;

export class ApiClient {
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<Listener>();
  user: User | null = null;

  constructor(private readonly base = "") {}

  onAuthChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get token(): string | null {
    return this.accessToken;
  }

  private setSession(tokens: Tokens | null): void {
    this.accessToken = tokens?.access_token ?? null;
    this.user = tokens?.user ?? null;
    for (const listener of this.listeners) listener(this.user);
  }

  /** Exchange the refresh cookie for a new access token; false when there is no session. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const response = await fetch(`${this.base}/api/v1/auth/refresh`, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json" },
            body: "{}",
          });
          if (!response.ok) {
            this.setSession(null);
            return false;
          }
          this.setSession((await response.json()) as Tokens);
          return true;
        } catch {
          return false;
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  async login(username: string, password: string): Promise<void> {
    this.setSession(await this.request<Tokens>("POST", "/api/v1/auth/login", { username, password }, false));
  }

  async register(username: string, password: string, confirm: string): Promise<void> {
    const body = { username, password, confirm_password: confirm };
    this.setSession(await this.request<Tokens>("POST", "/api/v1/auth/register", body, false));
  }

  async logout(): Promise<void> {
    try {
      await this.request("POST", "/api/v1/auth/logout");
    } finally {
      this.setSession(null);
    }
  }

  async changePassword(current: string, next: string): Promise<void> {
    const body = { current_password: current, new_password: next };
    this.setSession(await this.request<Tokens>("POST", "/api/v1/auth/change-password", body));
  }

  setUser(user: User): void {
    this.user = user;
    for (const listener of this.listeners) listener(user);
  }

  authHeaders(): Record<string, string> {
    return this.accessToken ? { Authorization: `Bearer ${this.accessToken}` } : {};
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, retry = true, extra: Record<string, string> = {}): Promise<T> {
    const response = await this.send(method, path, body, retry, extra);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  /** A raw response (for exports), with auth and error handling. */
  async send(method: string, path: string, body?: unknown, retry = true, extra: Record<string, string> = {}): Promise<Response> {
    const headers: Record<string, string> = { ...extra, ...this.authHeaders() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw networkError();
    }
    if (response.status === 401 && retry && (await this.refresh())) {
      return this.send(method, path, body, false, extra);
    }
    if (!response.ok) {
      let parsed: unknown = null;
      try {
        parsed = await response.json();
      } catch {
        parsed = null;
      }
      throw errorFromBody(response.status, parsed);
    }
    return response;
  }

  /** A short-lived read-only token for EventSource and <audio> URLs. */
  async streamToken(): Promise<string> {
    const out = await this.request<{ token: string }>("POST", "/api/v1/auth/stream-token");
    return out.token;
  }
}

export { ApiError };
export const api = new ApiClient();

/** True when the server said a refresh cookie exists (a script-readable flag, no secret). */
export function hasSessionHint(cookies: string = document.cookie): boolean {
  return cookies.split(";").some((part) => part.trim().startsWith("scriberr_session="));
}
