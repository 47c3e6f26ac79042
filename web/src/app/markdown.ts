/**
 * A small, safe markdown subset: **bold**, *italic* / _italic_, `code`, ```code blocks```,
 * [links](https://…), bare http(s) links and @mentions. It parses into a tree of plain
 * strings and nodes; the renderer builds DOM nodes with textContent only, so message
 * text can never become HTML.
 */

export type MdNode =
  | { t: "text"; v: string }
  | { t: "b" | "i" | "s"; c: MdNode[] }
  | { t: "code"; v: string }
  | { t: "pre"; v: string }
  | { t: "a"; href: string; c: MdNode[] }
  | { t: "mention"; v: string }
  | { t: "br" };

const URL_RE = /^https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/;

export function safeHref(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

export function parse(src: string, depth = 0): MdNode[] {
  const out: MdNode[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ t: "text", v: text });
    text = "";
  };
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const ch = src[i]!;
    if (rest.startsWith("```")) {
      const end = src.indexOf("```", i + 3);
      if (end > i + 3) {
        flush();
        out.push({ t: "pre", v: src.slice(i + 3, end).replace(/^\w*\n/, "").replace(/^\n/, "") });
        i = end + 3;
        continue;
      }
    }
    if (ch === "`") {
      const end = src.indexOf("`", i + 1);
      if (end > i + 1 && !src.slice(i + 1, end).includes("\n")) {
        flush();
        out.push({ t: "code", v: src.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (ch === "\n") {
      flush();
      out.push({ t: "br" });
      i++;
      continue;
    }
    if (depth < 4) {
      let matched = false;
      for (const [mark, tag] of [["**", "b"], ["~~", "s"], ["__", "b"], ["*", "i"], ["_", "i"]] as const) {
        if (rest.startsWith(mark)) {
          const end = src.indexOf(mark, i + mark.length);
          const inner = end > 0 ? src.slice(i + mark.length, end) : "";
          const prev = i > 0 ? src[i - 1]! : " ";
          // `_` inside words (snake_case) is not emphasis.
          const wordy = mark.startsWith("_") && /\w/.test(prev);
          if (end > i + mark.length && inner.trim() === inner && !inner.includes("\n") && !wordy) {
            flush();
            out.push({ t: tag, c: parse(inner, depth + 1) });
            i = end + mark.length;
            matched = true;
            break;
          }
        }
      }
      if (matched) continue;
    }
    if (ch === "[") {
      const m = /^\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/.exec(rest);
      const href = m ? safeHref(m[2]!) : null;
      if (m && href) {
        flush();
        out.push({ t: "a", href, c: parse(m[1]!, depth + 1) });
        i += m[0].length;
        continue;
      }
    }
    if (ch === "h" && (i === 0 || /[\s(]/.test(src[i - 1]!))) {
      const m = URL_RE.exec(rest);
      const href = m ? safeHref(m[0]) : null;
      if (m && href) {
        flush();
        out.push({ t: "a", href, c: [{ t: "text", v: m[0] }] });
        i += m[0].length;
        continue;
      }
    }
    if (ch === "@" && (i === 0 || !/[\p{L}\p{N}_.-]/u.test(src[i - 1]!))) {
      const m = /^@([\p{L}\p{N}_.-]{3,32})/u.exec(rest);
      if (m) {
        const name = m[1]!.replace(/[.-]+$/, "");
        if (name.length >= 3) {
          flush();
          out.push({ t: "mention", v: name });
          i += name.length + 1;
          continue;
        }
      }
    }
    text += ch;
    i++;
  }
  flush();
  return out;
}

/** DOM nodes for `src` (textContent only; links open in a new tab without referrer). */
export function render(src: string): Node[] {
  const build = (nodes: MdNode[]): Node[] =>
    nodes.map((n) => {
      switch (n.t) {
        case "text":
          return document.createTextNode(n.v);
        case "br":
          return document.createElement("br");
        case "code":
        case "pre": {
          const el = document.createElement(n.t === "pre" ? "pre" : "code");
          el.textContent = n.v;
          return el;
        }
        case "mention": {
          const el = document.createElement("span");
          el.className = "mention";
          el.textContent = `@${n.v}`;
          return el;
        }
        case "a": {
          const el = document.createElement("a");
          el.href = n.href;
          el.target = "_blank";
          el.rel = "noopener noreferrer nofollow";
          el.append(...build(n.c));
          return el;
        }
        default: {
          const el = document.createElement(n.t === "b" ? "strong" : n.t === "i" ? "em" : "s");
          el.append(...build(n.c));
          return el;
        }
      }
    });
  return build(parse(src));
}
