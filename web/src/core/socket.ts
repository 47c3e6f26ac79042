import { ApiError } from "./errors";
import type { AuthSuccessFrame, ErrorFrame, PushFrame, ServerFrame } from "../protocol/types";

export type ConnState = "offline" | "connecting" | "syncing" | "online";

/** The part of the browser WebSocket the connection uses (tests pass a fake). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface ConnectionOptions {
  url: string;
  /** A valid access token; `force` after the server refused one. `null`: signed out. */
  token: (force: boolean) => Promise<string | null>;
  /** The last `seq` processed, for resume (`auth` with `since`). */
  since: () => number | null;
  onPush: (f: PushFrame) => void;
  onSynced?: (seq: number) => void;
  onState?: (s: ConnState) => void;
  onAuth?: (f: AuthSuccessFrame) => void;
  /** The session is over (token refused and refresh impossible, or revoked). */
  onSignedOut?: (reason: string) => void;
  socket?: (url: string) => SocketLike;
  /** Backoff: first delay, cap (ms). */
  backoff?: { base: number; max: number };
  random?: () => number;
  pingEvery?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/** Answer frame types: never delivered as pushes, even without `re`. */
const ANSWERS = new Set(["auth_success", "auth_2fa_required", "ack", "synced", "history", "result", "pong", "error"]);

interface Pending { resolve: (f: ServerFrame) => void; reject: (e: unknown) => void }

/**
 * One authenticated WebSocket to `/ws` that stays up: it authenticates with the access
 * token and `since`, holds requests by `id` until their answer (`re`), reconnects with
 * jittered exponential backoff, and resumes from the last processed `seq`.
 */
export class Connection {
  private ws: SocketLike | null = null;
  private stateValue: ConnState = "offline";
  private attempt = 0;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private pending = new Map<string, Pending>();
  private nextId = 1;
  private stopped = true;
  private waiters: Array<() => void> = [];
  private lastFrameAt = 0;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;

  constructor(private readonly o: ConnectionOptions) {
    this.setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  get state(): ConnState {
    return this.stateValue;
  }

  private setState(s: ConnState) {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.o.onState?.(s);
    if (s === "online") {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  /** Resolves when the connection is authenticated and caught up. */
  ready(): Promise<void> {
    return this.stateValue === "online" ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000, "bye");
    }
    this.failPending(new ApiError("network", "disconnected"));
    this.setState("offline");
  }

  /** Reconnect now (e.g. the browser came back online), skipping the backoff wait. */
  kick(): void {
    if (this.stopped) return;
    if (this.ws && this.stateValue !== "offline") return;
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.open();
  }

  /** Delay before reconnect attempt `n` (1-based): full jitter over an exponential cap. */
  delay(n: number): number {
    const { base, max } = this.o.backoff ?? { base: 500, max: 30_000 };
    const cap = Math.min(max, base * 2 ** Math.max(0, n - 1));
    return Math.round(cap / 2 + (this.o.random ?? Math.random)() * (cap / 2));
  }

  /** Sends a request frame and resolves with its answer; an `error` answer rejects. */
  request<T extends ServerFrame = ServerFrame>(frame: Record<string, unknown>, timeoutMs = 15_000): Promise<T> {
    const ws = this.ws;
    if (!ws || this.stateValue !== "online") return Promise.reject(new ApiError("network", "not connected"));
    const id = `c${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = this.setTimer(() => {
        this.pending.delete(id);
        reject(new ApiError("network", "request timed out"));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (f) => {
          this.clearTimer(timer);
          resolve(f as T);
        },
        reject: (e) => {
          this.clearTimer(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Runs an op frame (§3.10) and returns its `data`. */
  async op<T>(type: string, fields: Record<string, unknown>): Promise<T> {
    const f = await this.request({ type, ...fields });
    return (f as { data: T }).data;
  }

  /** Fire-and-forget frame (e.g. typing without id). */
  send(frame: Record<string, unknown>): boolean {
    if (!this.ws || this.stateValue !== "online") return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private clearTimers() {
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  private failPending(e: unknown) {
    const p = [...this.pending.values()];
    this.pending.clear();
    for (const x of p) x.reject(e);
  }

  private open(force = false) {
    if (this.stopped) return;
    this.setState("connecting");
    let ws: SocketLike;
    try {
      ws = (this.o.socket ?? ((u) => new WebSocket(u) as unknown as SocketLike))(this.o.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let authId = "";
    ws.onopen = () => {
      void (async () => {
        let token: string | null;
        try {
          token = await this.o.token(force);
        } catch {
          ws.close(4000, "no token");
          return;
        }
        if (this.ws !== ws) return;
        if (!token) {
          this.signedOut("signed out");
          return;
        }
        authId = `a${this.nextId++}`;
        const since = this.o.since();
        ws.send(JSON.stringify({ type: "auth", id: authId, token, since: since ?? Number.MAX_SAFE_INTEGER }));
      })();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let f: ServerFrame;
      try {
        f = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      if (f.type === "auth_success" && f.re === authId) {
        this.attempt = 0;
        this.setState("syncing");
        this.o.onAuth?.(f);
        this.armPing();
        return;
      }
      if (f.type === "synced" && !f.re) {
        this.setState("online");
        this.o.onSynced?.(f.seq);
        return;
      }
      if (f.type === "error" && f.re === authId) {
        this.onAuthError(ws, f);
        return;
      }
      if (f.type === "error" && !f.re && (f.code === "unauthorized" || f.code === "slow_consumer")) {
        // "this session was revoked" closes for good; a slow consumer resumes from `seq`.
        if (f.code === "unauthorized" && /revoked/.test(f.message)) this.signedOut(f.message);
        return;
      }
      const re = (f as { re?: string }).re;
      if (re !== undefined) {
        const p = this.pending.get(re);
        if (p) {
          this.pending.delete(re);
          if (f.type === "error") p.reject(new ApiError(f.code, f.message, 0, f.retry_after));
          else p.resolve(f);
        }
        return;
      }
      if (!ANSWERS.has(f.type)) this.o.onPush(f as PushFrame);
    };
    ws.onerror = () => undefined;
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending(new ApiError("network", "disconnected"));
      if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
      this.pingTimer = null;
      if (this.stopped) return;
      this.setState("offline");
      this.scheduleReconnect();
    };
  }

  private onAuthError(ws: SocketLike, f: ErrorFrame) {
    if (f.code === "unauthorized") {
      // The token was refused (expired or revoked): retry once with a refreshed one.
      ws.onclose = null;
      ws.close(1000, "reauth");
      this.ws = null;
      void this.o.token(true).then(
        (t) => (t ? this.open(false) : this.signedOut(f.message)),
        () => this.scheduleReconnect(),
      );
      return;
    }
    ws.close(1000, "auth failed");
  }

  private signedOut(reason: string) {
    this.stop();
    this.o.onSignedOut?.(reason);
  }

  private scheduleReconnect() {
    if (this.stopped || this.retryTimer !== null) return;
    this.attempt++;
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null;
      this.open();
    }, this.delay(this.attempt));
  }

  private armPing() {
    const every = this.o.pingEvery ?? 25_000;
    if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
    this.pingTimer = this.setTimer(() => {
      this.pingTimer = null;
      const ws = this.ws;
      if (!ws) return;
      const idle = Date.now() - this.lastFrameAt;
      if (idle > every * 2) {
        // No frame, not even a pong, for two periods: the link is dead.
        ws.close(4001, "timeout");
        ws.onclose?.({ code: 4001 });
        return;
      }
      ws.send(JSON.stringify({ type: "ping" }));
      this.armPing();
    }, every);
  }
}
