// Rasterizes the app icon (same shapes as public/icons/icon.svg) into PNGs without dependencies.
// Run once: node scripts/make-icons.mjs (the PNGs are committed).
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, maskable) {
  const s = size / 512;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
  const blue = hex("#2b6cb0"), white = [255, 255, 255], navy = hex("#1a365d"), orange = hex("#f6ad55");
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let X = (x + 0.5) / s, Y = (y + 0.5) / s;
      if (maskable) { X = 256 + (X - 256) / 0.8; Y = 256 + (Y - 256) / 0.8; }
      let col = null, a = 255;
      const r = 112;
      const inRect = maskable || (() => {
        const cx = Math.min(Math.max(X, r), 512 - r), cy = Math.min(Math.max(Y, r), 512 - r);
        return (X - cx) ** 2 + (Y - cy) ** 2 <= r * r;
      })();
      if (inRect) col = blue; else { col = [0, 0, 0]; a = 0; }
      const d = (cx, cy) => Math.hypot(X - cx, Y - cy);
      if (inRect) {
        if (d(176, 240) <= 84 || d(336, 240) <= 84) col = white;
        if (d(176, 240) <= 36 || d(336, 240) <= 36) col = navy;
        if (Y >= 330 && Y <= 380 && Math.abs(X - 256) <= 30 * (380 - Y) / 50) col = orange;
      }
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = col[0]; raw[o + 1] = col[1]; raw[o + 2] = col[2]; raw[o + 3] = a;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}
writeFileSync("public/icons/icon-192.png", png(192, false));
writeFileSync("public/icons/icon-512.png", png(512, false));
writeFileSync("public/icons/maskable-512.png", png(512, true));
