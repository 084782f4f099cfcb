import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient, hasSessionHint } from "./client";

type Call = { url: string; init: RequestInit };

function fakeFetch(responses: Response[]): { calls: Call[] } {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = responses.shift();
    if (!next) throw new Error("unexpected request");
    return next;
  });
  return { calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const tokens = (access: string) => ({ access_token: access, refresh_token: "rt_x", expires_in: 900, user: { id: "user_1", username: "a", created_at: "" } });

afterEach(() => vi.unstubAllGlobals());

describe("ApiClient", () => {
  it("keeps the access token in memory and sends it as a bearer", async () => {
    const { calls } = fakeFetch([json(200, tokens("at_1")), json(200, { ok: 1 })]);
    const client = new ApiClient();
    await client.login("a", "pw");
    expect(await client.get("/api/v1/auth/me")).toEqual({ ok: 1 });
    expect((calls[1].init.headers as Record<string, string>).Authorization).toBe("Bearer at_1");
    expect(client.user?.username).toBe("a");
  });

  it("refreshes once from the cookie on a 401 and retries", async () => {
    const { calls } = fakeFetch([json(200, tokens("at_1")), json(401, {}), json(200, tokens("at_2")), json(200, { ok: 2 })]);
    const client = new ApiClient();
    await client.login("a", "pw");
    expect(await client.get("/x")).toEqual({ ok: 2 });
    expect(calls[2].url).toBe("/api/v1/auth/refresh");
    expect(calls[2].init.credentials).toBe("same-origin");
    expect(calls[2].init.body).toBe("{}"); // the refresh token travels only in the cookie
    expect((calls[3].init.headers as Record<string, string>).Authorization).toBe("Bearer at_2");
  });

  it("signs out when the refresh fails, with a readable error", async () => {
    fakeFetch([json(200, tokens("at_1")), json(401, {}), json(401, {})]);
    const client = new ApiClient();
    const seen: unknown[] = [];
    client.onAuthChange((u) => seen.push(u));
    await client.login("a", "pw");
    await expect(client.get("/x")).rejects.toThrow("Please sign in again.");
    expect(client.user).toBeNull();
    expect(client.token).toBeNull();
    expect(seen.at(-1)).toBeNull();
  });

  it("shares one refresh between concurrent 401s", async () => {
    const { calls } = fakeFetch([json(200, tokens("at_2"))]);
    const client = new ApiClient();
    const [a, b] = await Promise.all([client.refresh(), client.refresh()]);
    expect(a && b).toBe(true);
    expect(calls.length).toBe(1);
  });

  it("turns network failures into plain words", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(new ApiClient().get("/x")).rejects.toThrow("The server could not be reached. Check your connection.");
  });
});

describe("hasSessionHint", () => {
  it("looks for the session flag cookie only", () => {
    expect(hasSessionHint("a=1; scriberr_session=1")).toBe(true);
    expect(hasSessionHint("scriberr_sessionx=1")).toBe(false);
    expect(hasSessionHint("")).toBe(false);
  });
});
