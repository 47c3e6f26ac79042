import { describe, expect, it, vi } from "vitest";
import { TokenManager, type KeyValue } from "../src/core/session";
import { ApiError } from "../src/core/errors";
import type { TokenPair } from "../src/protocol/types";

function memStorage(): KeyValue & { m: Map<string, string> } {
  const m = new Map<string, string>();
  return { m, getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}
const pair = (n: number, expires_in = 900): TokenPair => ({ token: `t${n}`, refresh_token: `r${n}`, user_id: 1, username: "alice", expires_in });

describe("TokenManager", () => {
  it("hands out the stored token while it is fresh", async () => {
    let now = 0;
    const refresh = vi.fn();
    const tm = new TokenManager({ storage: memStorage(), refresh, now: () => now, setTimer: () => 0, clearTimer: () => undefined });
    tm.set(pair(1));
    now = 800_000; // 100 s before expiry, margin is 60 s
    expect(await tm.token()).toBe("t1");
    expect(refresh).not.toHaveBeenCalled();
  });

  it("rotates the refresh token before expiry, once for concurrent callers", async () => {
    let now = 0;
    const refresh = vi.fn(async (rt: string) => {
      expect(rt).toBe("r1");
      return pair(2);
    });
    const tm = new TokenManager({ storage: memStorage(), refresh, now: () => now, setTimer: () => 0, clearTimer: () => undefined });
    tm.set(pair(1));
    now = 850_000; // inside the 60 s margin
    const [a, b, c] = await Promise.all([tm.token(), tm.token(), tm.token()]);
    expect([a, b, c]).toEqual(["t2", "t2", "t2"]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(tm.session?.refresh_token).toBe("r2");
  });

  it("arms a timer that refreshes margin before expiry", async () => {
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const refresh = vi.fn(async () => pair(2));
    const tm = new TokenManager({ storage: memStorage(), refresh, now: () => 0, setTimer: (fn, ms) => timers.push({ fn, ms }), clearTimer: () => undefined });
    tm.set(pair(1));
    expect(timers.at(-1)!.ms).toBe(900_000 - 60_000);
    timers.at(-1)!.fn();
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    expect(tm.session?.token).toBe("t2");
  });

  it("adopts a pair another tab already rotated instead of reusing a spent refresh token", async () => {
    let now = 0;
    const storage = memStorage();
    const refresh = vi.fn(async () => pair(9));
    const tm = new TokenManager({ storage, refresh, now: () => now, setTimer: () => 0, clearTimer: () => undefined });
    tm.set(pair(1));
    now = 850_000;
    // The other tab rotated while this one waited for the lock.
    const lockedTm = new TokenManager({
      storage, refresh, now: () => now, setTimer: () => 0, clearTimer: () => undefined,
      lock: async (fn) => {
        storage.setItem("sova.session", JSON.stringify({ token: "t2", refresh_token: "r2", user_id: 1, username: "alice", expires_at: now + 900_000 }));
        return fn();
      },
    });
    expect(await lockedTm.token()).toBe("t2");
    expect(refresh).not.toHaveBeenCalled();
    expect(tm.session?.refresh_token).toBe("r2");
  });

  it("ends the session when the refresh token is refused", async () => {
    const refresh = vi.fn(async () => {
      throw new ApiError("unauthorized", "refresh token reuse detected; session revoked", 401);
    });
    const seen: unknown[] = [];
    const tm = new TokenManager({ storage: memStorage(), refresh, now: () => 0, setTimer: () => 0, clearTimer: () => undefined });
    tm.set(pair(1));
    tm.onChange((s) => seen.push(s));
    expect(await tm.token(true)).toBeNull();
    expect(tm.session).toBeNull();
    expect(seen).toEqual([null]);
  });

  it("keeps the session on a network failure", async () => {
    const refresh = vi.fn(async () => {
      throw new ApiError("network", "offline");
    });
    const tm = new TokenManager({ storage: memStorage(), refresh, now: () => 0, setTimer: () => 0, clearTimer: () => undefined });
    tm.set(pair(1));
    await expect(tm.token(true)).rejects.toThrow("offline");
    expect(tm.session?.refresh_token).toBe("r1");
  });
});
