/** Proof-of-work CAPTCHA (§2.2): find `nonce` with SHA-256(challenge + ":" + nonce) starting with `difficulty` zero bits. */

export function leadingZeroBits(digest: Uint8Array): number {
  let n = 0;
  for (const b of digest) {
    if (b === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(b) - 24;
  }
  return n;
}

export interface SolveOptions {
  /** Called now and then with the number of hashes tried and the expected total (2^difficulty). */
  onProgress?: (tried: number, expected: number) => void;
  signal?: AbortSignal;
  /** Hashes computed concurrently per round (WebCrypto calls are async). */
  batch?: number;
  subtle?: SubtleCrypto;
}

/** Counts decimal nonces up from 0 with WebCrypto's SHA-256 until one meets `difficulty`. */
export async function solve(challenge: string, difficulty: number, opts: SolveOptions = {}): Promise<string> {
  const subtle = opts.subtle ?? globalThis.crypto.subtle;
  const enc = new TextEncoder();
  const prefix = enc.encode(`${challenge}:`);
  const batch = opts.batch ?? 512;
  const expected = 2 ** difficulty;
  let lastReport = 0;
  for (let start = 0; ; start += batch) {
    if (opts.signal?.aborted) throw new DOMException("aborted", "AbortError");
    const jobs: Promise<ArrayBuffer>[] = [];
    for (let i = 0; i < batch; i++) {
      const nonce = enc.encode(String(start + i));
      const buf = new Uint8Array(prefix.length + nonce.length);
      buf.set(prefix);
      buf.set(nonce, prefix.length);
      jobs.push(subtle.digest("SHA-256", buf));
    }
    const digests = await Promise.all(jobs);
    for (let i = 0; i < digests.length; i++) {
      if (leadingZeroBits(new Uint8Array(digests[i]!)) >= difficulty) {
        opts.onProgress?.(start + i + 1, expected);
        return String(start + i);
      }
    }
    if (opts.onProgress && start + batch - lastReport >= 8192) {
      lastReport = start + batch;
      opts.onProgress(lastReport, expected);
    }
  }
}
