import { ApiError } from "./errors";
import type { TokenPair } from "../protocol/types";

/** What is kept of a signed-in session (localStorage, shared by the tabs of one browser). */
export interface StoredSession {
  token: string;
  refresh_token: string;
  user_id: number;
  username: string;
  /** Epoch ms when `token` expires. */
  expires_at: number;
}

export interface KeyValue {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export interface TokenManagerOptions {
  storage: KeyValue;
  /** Exchanges a refresh token for a new pair (POST /api/refresh). */
  refresh: (refreshToken: string) => Promise<TokenPair>;
  now?: () => number;
  /** Refresh this long before expiry (ms). */
  margin?: number;
  /** Serializes refreshes across tabs (Web Locks); the default runs `fn` directly. */
  lock?: <T>(fn: () => Promise<T>) => Promise<T>;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

const KEY = "sova.session";

/**
 * Holds the token pair, hands out valid access tokens and rotates the refresh token
 * before expiry. One refresh runs at a time (per tab, and across tabs with a lock);
 * a tab that finds the stored pair already rotated by another tab adopts it instead
 * of spending its own (spent) refresh token, which the server would treat as reuse.
 */
export class TokenManager {
  private inflight: Promise<string | null> | null = null;
  private timer: unknown = null;
  private listeners = new Set<(s: StoredSession | null) => void>();
  private readonly now: () => number;
  private readonly margin: number;
  private readonly lock: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(private readonly o: TokenManagerOptions) {
    this.now = o.now ?? Date.now;
    this.margin = o.margin ?? 60_000;
    this.lock = o.lock ?? ((fn) => fn());
  }

  get session(): StoredSession | null {
    const raw = this.o.storage.getItem(KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return null;
    }
  }

  onChange(fn: (s: StoredSession | null) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stores a fresh pair from login, 2FA or refresh. */
  set(pair: TokenPair): StoredSession {
    const s: StoredSession = {
      token: pair.token,
      refresh_token: pair.refresh_token,
      user_id: pair.user_id,
      username: pair.username,
      expires_at: this.now() + pair.expires_in * 1000,
    };
    this.o.storage.setItem(KEY, JSON.stringify(s));
    this.schedule();
    for (const l of this.listeners) l(s);
    return s;
  }

  clear(): void {
    this.o.storage.removeItem(KEY);
    if (this.timer !== null) (this.o.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
    for (const l of this.listeners) l(null);
  }

  /** Arms the timer that refreshes `margin` before expiry. */
  schedule(): void {
    const s = this.session;
    if (this.timer !== null) (this.o.clearTimer ?? clearTimeout)(this.timer as ReturnType<typeof setTimeout>);
    this.timer = null;
    if (!s) return;
    const wait = Math.max(0, s.expires_at - this.margin - this.now());
    this.timer = (this.o.setTimer ?? setTimeout)(() => {
      this.timer = null;
      void this.token(true).catch(() => undefined);
    }, wait);
  }

  /** A valid access token; refreshes when it expires within `margin`, or when `force`. */
  async token(force = false): Promise<string | null> {
    const s = this.session;
    if (!s) return null;
    if (!force && s.expires_at - this.margin > this.now()) return s.token;
    if (!this.inflight) {
      const stale = s.token;
      this.inflight = this.lock(async () => {
        const cur = this.session;
        if (!cur) return null;
        // Another tab rotated the pair while we waited for the lock: adopt it.
        if (cur.token !== stale && cur.expires_at - this.margin > this.now()) {
          this.schedule();
          return cur.token;
        }
        try {
          return this.set(await this.o.refresh(cur.refresh_token)).token;
        } catch (e) {
          if (e instanceof ApiError && e.code === "unauthorized") {
            // The refresh token is dead (expired, revoked, reused): the session is over.
            if (this.session?.refresh_token === cur.refresh_token) this.clear();
            return null;
          }
          throw e;
        }
      }).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }
}

/** Cross-tab refresh lock with the Web Locks API, when the browser has it. */
export function webLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request("sova-refresh", fn) as Promise<T>) : fn();
}
