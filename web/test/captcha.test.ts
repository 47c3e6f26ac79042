import { createHash, webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leadingZeroBits, solve } from "../src/core/captcha";

describe("proof-of-work CAPTCHA", () => {
  it("counts leading zero bits", () => {
    expect(leadingZeroBits(new Uint8Array([0, 0, 0x80]))).toBe(16);
    expect(leadingZeroBits(new Uint8Array([0, 0x0f]))).toBe(12);
    expect(leadingZeroBits(new Uint8Array([0x01]))).toBe(7);
    expect(leadingZeroBits(new Uint8Array([0xff]))).toBe(0);
    expect(leadingZeroBits(new Uint8Array([0, 0]))).toBe(16);
  });

  it("finds a nonce the server's rule accepts, and reports progress", async () => {
    const challenge = "q1lTnB3xY2kQ0m7a.1701425000.14.sig";
    const progress: number[] = [];
    const nonce = await solve(challenge, 14, { subtle: webcrypto.subtle as SubtleCrypto, onProgress: (n) => progress.push(n) });
    expect(nonce).toMatch(/^\d+$/);
    expect(new TextEncoder().encode(nonce).length).toBeLessThanOrEqual(32);
    const digest = createHash("sha256").update(`${challenge}:${nonce}`, "utf8").digest();
    expect(leadingZeroBits(new Uint8Array(digest))).toBeGreaterThanOrEqual(14);
    // The smallest such nonce: no smaller decimal nonce qualifies.
    for (let i = 0; i < Number(nonce); i++) {
      const d = createHash("sha256").update(`${challenge}:${i}`).digest();
      expect(leadingZeroBits(new Uint8Array(d))).toBeLessThan(14);
    }
    expect(progress.length).toBeGreaterThan(0);
  });

  it("stops when aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(solve("x", 30, { signal: ac.signal, subtle: webcrypto.subtle as SubtleCrypto })).rejects.toThrow(/abort/);
  });
});
