// Test harness: a real `sova` on free ports with a temporary data directory, and
// Debian's Chromium driven by playwright-core (installed with apt-get when missing).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = resolve(new URL("../..", import.meta.url).pathname);
export const OUT = resolve(new URL("../test-results", import.meta.url).pathname);
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

/** Installs Debian's chromium when it is missing (fails in CI when it cannot). */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  console.log("chromium missing: apt-get install -y chromium");
  const root = process.getuid?.() === 0;
  const apt = (args) => spawnSync(root ? "apt-get" : "sudo", root ? args : ["apt-get", ...args], { stdio: "inherit" });
  if (apt(["install", "-y", "chromium"]).status !== 0) {
    apt(["update"]);
    apt(["install", "-y", "chromium"]);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`cannot install chromium (${CHROMIUM}); install it with apt-get install chromium`);
}

export class Server {
  constructor() {
    this.bin = process.env.SOVA_BIN ?? join(ROOT, "target/debug/sova");
    this.dir = mkdtempSync(join(tmpdir(), "sova-web-e2e-"));
    this.proc = null;
  }
  async start() {
    if (!existsSync(this.bin)) throw new Error(`no sova binary at ${this.bin} (cargo build --bin sova)`);
    this.port ??= await freePort();
    this.tcp ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.proc = spawn(this.bin, [], {
      env: { ...process.env, SOVA_DATA_DIR: this.dir, HTTP_PORT: String(this.port), TCP_PORT: String(this.tcp), GRPC_PORT: "0", BIND_ADDR: "127.0.0.1", RUST_LOG: process.env.RUST_LOG ?? "warn", CAPTCHA_DIFFICULTY: "16" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    for (let i = 0; i < 300; i++) {
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return this;
      } catch {
        /* not yet */
      }
      if (this.proc.exitCode !== null) throw new Error(`sova exited with ${this.proc.exitCode}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("sova did not become healthy");
  }
  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise((res) => {
      p.once("exit", res);
      p.kill("SIGTERM");
      setTimeout(() => p.exitCode === null && p.kill("SIGKILL"), 8000);
    });
    this.proc = null;
  }
  cleanup() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function launch() {
  ensureChromium();
  // playwright-core gives every launch a fresh temporary profile (it refuses --user-data-dir here).
  const profile = null;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { browser, profile };
}

export const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: "en-US", colorScheme: "light" };
export const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: "en-US", colorScheme: "light" };

/** Records console errors and CSP violations of a page. */
export function watch(page, name, problems) {
  page.on("console", (m) => {
    const text = m.text();
    if (m.type() === "error" && !/ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|WebSocket connection|Failed to load resource|net::ERR/.test(text)) problems.push(`${name}: ${text}`);
    if (/Content.Security.Policy/i.test(text)) problems.push(`${name} CSP: ${text}`);
  });
  page.on("pageerror", (e) => problems.push(`${name} pageerror: ${e.message}`));
}

export async function shot(page, name) {
  mkdirSync(join(OUT, "screenshots"), { recursive: true });
  await page.screenshot({ path: join(OUT, "screenshots", `${name}.png`) });
}
