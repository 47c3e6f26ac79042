import { describe, expect, it } from "vitest";
import { parseSnippet, unescapeHtml } from "../src/app/snippet";
import { Rest, ROUTES } from "../src/core/rest";

describe("search snippets", () => {
  it("splits marks from text and unescapes only the server's entities", () => {
    expect(parseSnippet("Мои <mark>книги</mark> &amp; &lt;b&gt;твои&lt;/b&gt; <mark>книгами</mark>")).toEqual([
      { text: "Мои ", mark: false },
      { text: "книги", mark: true },
      { text: " & <b>твои</b> ", mark: false },
      { text: "книгами", mark: true },
    ]);
    expect(parseSnippet("no match")).toEqual([{ text: "no match", mark: false }]);
    expect(parseSnippet("")).toEqual([]);
    expect(unescapeHtml("&amp;lt; &#39;x&#39; &nbsp;")).toBe("&lt; 'x' &nbsp;");
  });

  it("never turns message text into markup", () => {
    const parts = parseSnippet("&lt;img src=x onerror=alert(1)&gt; <mark>fox</mark>");
    expect(parts[0]).toEqual({ text: "<img src=x onerror=alert(1)> ", mark: false });
    expect(parts.every((p) => typeof p.text === "string")).toBe(true);
  });

  it("calls GET /api/search with the query, encoded", async () => {
    expect(ROUTES.search).toEqual(["GET", "/api/search"]);
    let url = "";
    const rest = new Rest({
      token: async () => "t",
      fetch: async (u) => {
        url = u;
        return new Response(JSON.stringify({ items: [], cursor: null }), { status: 200 });
      },
    });
    const page = await rest.search("книга \"red fox\"", { limit: 20 });
    expect(page).toEqual({ items: [], cursor: null });
    expect(url).toBe(`/api/search?q=${encodeURIComponent("книга \"red fox\"")}&limit=20`);
  });
});
