import type { CaptchaChallenge, CaptchaSolution } from "../protocol/types";

/** Solves `c` in a Web Worker; `onProgress` gets a 0..1 estimate (the search has no fixed end). */
export function solveInWorker(c: CaptchaChallenge, onProgress: (p: number) => void, signal?: AbortSignal): Promise<CaptchaSolution> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./captcha.worker.ts", import.meta.url), { type: "module" });
    const done = () => w.terminate();
    signal?.addEventListener("abort", () => {
      done();
      reject(new DOMException("aborted", "AbortError"));
    });
    w.onmessage = (ev: MessageEvent<{ type: string; tried?: number; expected?: number; nonce?: string; message?: string }>) => {
      const m = ev.data;
      if (m.type === "progress" && m.tried && m.expected) onProgress(1 - Math.exp(-m.tried / m.expected));
      else if (m.type === "done" && m.nonce !== undefined) {
        onProgress(1);
        done();
        resolve({ challenge: c.challenge, nonce: m.nonce });
      } else if (m.type === "error") {
        done();
        reject(new Error(m.message));
      }
    };
    w.onerror = (e) => {
      done();
      reject(new Error(e.message));
    };
    w.postMessage({ challenge: c.challenge, difficulty: c.difficulty });
  });
}
