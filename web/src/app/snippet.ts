// Search snippets arrive HTML-escaped with `<mark>`…`</mark>` around matched words
// (docs/search.md). They are split here into plain-text pieces, rendered as text nodes:
// nothing from a message ever becomes markup, whatever it contains.

export interface SnippetPart {
  text: string;
  mark: boolean;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" };

/** Undoes the server's escaping (only the five entities it produces; anything else stays as written). */
export function unescapeHtml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ENTITIES[e]!);
}

/** The snippet as text pieces, each marked (a match) or not. */
export function parseSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const re = /<mark>(.*?)<\/mark>/gs;
  let at = 0;
  for (let m = re.exec(snippet); m; m = re.exec(snippet)) {
    if (m.index > at) parts.push({ text: unescapeHtml(snippet.slice(at, m.index)), mark: false });
    parts.push({ text: unescapeHtml(m[1]!), mark: true });
    at = m.index + m[0].length;
  }
  if (at < snippet.length) parts.push({ text: unescapeHtml(snippet.slice(at)), mark: false });
  return parts;
}
