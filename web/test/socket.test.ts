import { describe, expect, it } from "vitest";
import { Connection, type SocketLike } from "../src/core/socket";
import type { PushFrame } from "../src/protocol/types";

/** A scripted server end of a WebSocket. */
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  closed = false;
  send(d: string) { this.sent.push(JSON.parse(d) as Record<string, unknown>); }
  close() { this.closed = true; }
  open() { this.readyState = 1; this.onopen?.({}); }
  push(f: unknown) { this.onmessage?.({ data: JSON.stringify(f) }); }
  drop() { this.readyState = 3; this.onclose?.({ code: 1006 }); }
  last() { return this.sent.at(-1)!; }
}

/** Manual timers. */
function clock() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  return {
    set: (fn: () => void, ms: number) => { timers.set(++id, { at: now + ms, fn }); return id; },
    clear: (t: unknown) => void timers.delete(t as number),
    async advance(ms: number) {
      now += ms;
      for (const [k, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) { timers.delete(k); t.fn(); }
      }
      await flush();
    },
    pending: () => [...timers.values()].map((t) => t.at - now),
  };
}
const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(opts: { since?: () => number | null; token?: (force: boolean) => Promise<string | null> } = {}) {
  const sockets: FakeSocket[] = [];
  const pushes: PushFrame[] = [];
  const states: string[] = [];
  const c = clock();
  let signedOut = "";
  let seq: number | null = null;
  const conn = new Connection({
    url: "ws://x/ws",
    token: opts.token ?? (async () => "tok"),
    since: opts.since ?? (() => seq),
    onPush: (f) => { pushes.push(f); if ("seq" in f) seq = f.seq; },
    onSynced: (s) => { seq = s; },
    onState: (s) => states.push(s),
    onSignedOut: (r) => { signedOut = r; },
    socket: () => { const s = new FakeSocket(); sockets.push(s); return s; },
    backoff: { base: 500, max: 8000 },
    random: () => 1,
    pingEvery: 1e9,
    setTimer: c.set,
    clearTimer: c.clear,
  });
  return { conn, sockets, pushes, states, c, signedOut: () => signedOut, seq: () => seq };
}

async function authenticate(s: FakeSocket, synced: number) {
  s.open();
  await flush();
  const auth = s.last();
  expect(auth.type).toBe("auth");
  s.push({ type: "auth_success", re: auth.id, token: "tok", user_id: 1, username: "alice", expires_in: 900 });
  s.push({ type: "synced", seq: synced });
  return auth;
}

describe("Connection", () => {
  it("authenticates with the token; a first start asks only for the current position", async () => {
    const t = setup();
    t.conn.start();
    const auth = await authenticate(t.sockets[0]!, 42);
    expect(auth.token).toBe("tok");
    expect(auth.since).toBe(Number.MAX_SAFE_INTEGER);
    expect(t.conn.state).toBe("online");
    expect(t.seq()).toBe(42);
  });

  it("reconnects with exponential backoff and resumes from the last seq", async () => {
    const t = setup();
    t.conn.start();
    await authenticate(t.sockets[0]!, 10);
    t.sockets[0]!.push({ type: "new_message", id: 11, chat_id: 1, chat_seq: 3, user_id: 2, user: "bob", text: "hi", timestamp: "2023-12-01T10:00:00Z", seq: 11, kind: "text" });
    t.sockets[0]!.drop();
    expect(t.conn.state).toBe("offline");
    // Attempt 1 after 500 ms; it fails; attempt 2 after 1000 ms; attempt 3 after 2000 ms.
    expect(t.c.pending()).toEqual([500]);
    await t.c.advance(500);
    expect(t.sockets.length).toBe(2);
    t.sockets[1]!.drop();
    expect(t.c.pending()).toEqual([1000]);
    await t.c.advance(1000);
    t.sockets[2]!.drop();
    expect(t.c.pending()).toEqual([2000]);
    await t.c.advance(2000);
    const auth = await authenticate(t.sockets[3]!, 12);
    expect(auth.since).toBe(11);
    // Replayed events arrive before `synced`; the backoff starts over after success.
    t.sockets[3]!.drop();
    expect(t.c.pending()).toEqual([500]);
  });

  it("caps the backoff", () => {
    const t = setup();
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => t.conn.delay(n))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("matches answers to requests by id and rejects errors and dropped requests", async () => {
    const t = setup();
    t.conn.start();
    await authenticate(t.sockets[0]!, 1);
    const s = t.sockets[0]!;
    const ok = t.conn.op<{ id: number }>("get_chat", { chat_id: 7 });
    const req = s.last();
    expect(req).toMatchObject({ type: "get_chat", chat_id: 7 });
    s.push({ type: "result", re: req.id, data: { id: 7 } });
    expect(await ok).toEqual({ id: 7 });
    const bad = t.conn.op("get_chat", { chat_id: 8 });
    s.push({ type: "error", re: s.last().id, code: "not_found", message: "no such chat" });
    await expect(bad).rejects.toMatchObject({ code: "not_found" });
    const lost = t.conn.op("get_chat", { chat_id: 9 });
    s.drop();
    await expect(lost).rejects.toMatchObject({ code: "network" });
  });

  it("retries auth once with a refreshed token, and signs out when that is impossible", async () => {
    const forced: boolean[] = [];
    let tokens = ["old", "new"];
    const t = setup({ token: async (force) => { forced.push(force); return force ? tokens.shift() === undefined ? null : "new" : "old"; } });
    t.conn.start();
    const s = t.sockets[0]!;
    s.open();
    await flush();
    s.push({ type: "error", re: s.last().id, code: "unauthorized", message: "token expired" });
    await flush();
    expect(forced).toContain(true);
    const s2 = t.sockets[1]!;
    s2.open();
    await flush();
    expect(s2.last().type).toBe("auth");
    tokens = [];
    s2.push({ type: "error", code: "unauthorized", message: "this session was revoked" });
    expect(t.signedOut()).toMatch(/revoked/);
    expect(t.conn.state).toBe("offline");
  });

  it("delivers pushes and never answers as pushes", async () => {
    const t = setup();
    t.conn.start();
    await authenticate(t.sockets[0]!, 1);
    t.sockets[0]!.push({ type: "typing", chat_id: 1, user_id: 2, user: "bob", expires_in: 6 });
    t.sockets[0]!.push({ type: "pong" });
    t.sockets[0]!.push({ type: "result", re: "unknown", data: null });
    expect(t.pushes.map((p) => p.type)).toEqual(["typing"]);
  });
});
