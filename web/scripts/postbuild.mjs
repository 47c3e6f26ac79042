// After `vite build`: writes dist/sw.js (the service worker with the list of files to
// precache), precompressed .gz and .br variants that the server sends when the browser
// accepts them, and dist/.build-stamp (read by crates/sova-web/build.rs).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const files = walk(dist)
  .map((p) => "/" + relative(dist, p).split("\\").join("/"))
  .filter((p) => !p.endsWith(".gz") && !p.endsWith(".br") && !p.startsWith("/."));
const precache = files.filter((p) => p !== "/sw.js" && !p.startsWith("/icons/maskable"));
const hash = createHash("sha256");
for (const f of precache.sort()) hash.update(f).update(readFileSync(join(dist, f)));

const template = readFileSync(new URL("../src/sw/sw.js", import.meta.url), "utf8");
hash.update(template);
const version = hash.digest("hex").slice(0, 12);
writeFileSync(join(dist, "sw.js"), template.replace("__VERSION__", version).replace("__PRECACHE__", JSON.stringify(precache.map((p) => (p === "/index.html" ? "/" : p)).concat("/index.html"))));

let raw = 0, gz = 0, br = 0;
for (const f of [...files, "/sw.js"].filter((v, i, a) => a.indexOf(v) === i)) {
  if (!/\.(js|css|html|svg|webmanifest|json|txt)$/.test(f)) continue;
  const buf = readFileSync(join(dist, f));
  const g = gzipSync(buf, { level: 9 });
  const b = brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  if (f.startsWith("/assets/") || f === "/index.html") { raw += buf.length; gz += g.length; br += b.length; }
  if (buf.length < 512) continue;
  writeFileSync(join(dist, f + ".gz"), g);
  writeFileSync(join(dist, f + ".br"), b);
}
writeFileSync(join(dist, ".build-stamp"), `${version}\n`);
console.log(`web client: ${files.length} files, app ${(raw / 1024).toFixed(1)} KiB, gzip ${(gz / 1024).toFixed(1)} KiB, brotli ${(br / 1024).toFixed(1)} KiB (sw ${version})`);
