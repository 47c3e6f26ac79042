// Cold-load figures: time from navigation start until the chat list (signed in) or the
// sign-in form (signed out) is interactive, in fresh browser contexts (no HTTP cache, no
// service worker), 5 runs each for a desktop-sized and a phone-sized context.
import { Server, launch, DESKTOP, PHONE } from "./harness.mjs";
// Usage: node e2e/coldload.mjs  (SOVA_BIN defaults to target/release/sova)
import { join } from "node:path";
import { ROOT } from "./harness.mjs";
process.env.SOVA_BIN = process.env.SOVA_BIN ?? join(ROOT, "target/release/sova");
const s = new Server(); s.bin = process.env.SOVA_BIN; await s.start();
const { browser } = await launch();
const ctx = await browser.newContext({ ...DESKTOP, baseURL: s.url });
const p = await ctx.newPage();
await p.goto("/");
await p.getByRole("tab").nth(1).click();
await p.fill("input[name=username]", "coldload");
await p.fill("input[name=password]", "password123");
await p.fill("input[name=password2]", "password123");
await p.click("form button[type=submit]");
await p.waitForSelector(".chat-item");
const state = await ctx.storageState();
for (const [name, opts] of [["desktop", DESKTOP], ["phone", PHONE]]) {
  const times = [];
  const fresh = [];
  for (let i = 0; i < 5; i++) {
    const c = await browser.newContext({ ...opts, baseURL: s.url, storageState: state });
    const q = await c.newPage();
    await q.goto("/");
    await q.waitForSelector(".chat-item");
    times.push(Math.round(await q.evaluate(() => performance.now())));
    await c.close();
    const c2 = await browser.newContext({ ...opts, baseURL: s.url });
    const q2 = await c2.newPage();
    await q2.goto("/");
    await q2.waitForSelector("input[name=username]");
    fresh.push(Math.round(await q2.evaluate(() => performance.now())));
    await c2.close();
  }
  times.sort((a, b) => a - b); fresh.sort((a, b) => a - b);
  console.log(name, "signed-in cold load → chat list:", times.join(" "), "median", times[2], "| sign-in form:", fresh.join(" "), "median", fresh[2]);
}
await browser.close(); await s.stop(); s.cleanup();
