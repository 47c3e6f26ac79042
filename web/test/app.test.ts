import { describe, expect, it } from "vitest";
import { parse, safeHref } from "../src/app/markdown";
import { normalize, DEFAULT_SETTINGS } from "../src/app/settings";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

describe("markdown", () => {
  it("bold, italic, code, links, mentions", () => {
    expect(parse("**b** *i* `c` [x](https://a.b/) https://e.org/p @alice")).toEqual([
      { t: "b", c: [{ t: "text", v: "b" }] }, { t: "text", v: " " },
      { t: "i", c: [{ t: "text", v: "i" }] }, { t: "text", v: " " },
      { t: "code", v: "c" }, { t: "text", v: " " },
      { t: "a", href: "https://a.b/", c: [{ t: "text", v: "x" }] }, { t: "text", v: " " },
      { t: "a", href: "https://e.org/p", c: [{ t: "text", v: "https://e.org/p" }] }, { t: "text", v: " " },
      { t: "mention", v: "alice" },
    ]);
  });
  it("never produces HTML or unsafe links", () => {
    const nodes = parse('<img src=x onerror=alert(1)> [x](javascript:alert(1)) a@example.com snake_case_name');
    expect(nodes).toEqual([{ t: "text", v: '<img src=x onerror=alert(1)> [x](javascript:alert(1)) a@example.com snake_case_name' }]);
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,x")).toBeNull();
  });
  it("code blocks keep their text verbatim", () => {
    expect(parse("```\n**not bold**\n```")).toEqual([{ t: "pre", v: "**not bold**\n" }]);
  });
});

describe("settings", () => {
  it("normalizes anything into valid settings", () => {
    expect(normalize(null)).toEqual(DEFAULT_SETTINGS);
    expect(normalize({ theme: "dark", fontSize: 99, density: "x", scheme: { accent: "#123456", background: "red" } })).toMatchObject({
      theme: "dark", fontSize: 22, density: "comfortable", scheme: { accent: "#123456", background: "" },
    });
  });
});

describe("i18n", () => {
  it("every UI string has English and Russian, and every key used exists", async () => {
    const { DICTS } = await import("../src/app/i18n");
    const en = Object.keys(DICTS.en).sort();
    expect(Object.keys(DICTS.ru).sort()).toEqual(en);
    for (const k of en) expect(DICTS.ru[k as keyof typeof DICTS.ru].trim(), k).not.toBe("");
    const dir = fileURLToPath(new URL("../src", import.meta.url));
    const files = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? files(join(d, n)) : [join(d, n)]));
    for (const f of files(dir).filter((f) => /\.tsx?$/.test(f))) {
      for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([a-z0-9_.]+)"/gi)) expect(en, `${f}: ${m[1]}`).toContain(m[1]);
    }
  });
});
