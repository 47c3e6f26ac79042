/// <reference lib="webworker" />
// Solves a proof-of-work challenge off the main thread and reports progress.
import { solve } from "./captcha";

self.onmessage = (ev: MessageEvent<{ challenge: string; difficulty: number }>) => {
  const { challenge, difficulty } = ev.data;
  solve(challenge, difficulty, { onProgress: (tried, expected) => self.postMessage({ type: "progress", tried, expected }) }).then(
    (nonce) => self.postMessage({ type: "done", nonce }),
    (e: unknown) => self.postMessage({ type: "error", message: String(e) }),
  );
};
