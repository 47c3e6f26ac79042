import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from "solid-js";
import type { Chat, SearchItem } from "../protocol/types";
import { fmtListTime, t } from "../app/i18n";
import { navigate } from "../app/router";
import { parseSnippet } from "../app/snippet";
import { chatTitle, jumpToMessage, now, rest, state } from "../app/store";

function initials(name: string): string {
  return name.replace(/[^\p{L}\p{N}]/gu, "").slice(0, 2).toUpperCase() || "#";
}

/** A stable hue per name for avatars. */
export function hue(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) % 360;
  return h;
}

export function Avatar(props: { name: string; online?: boolean; small?: boolean }) {
  return (
    <span class="avatar" classList={{ small: props.small }} data-hue={hue(props.name) % 12} aria-hidden="true">
      {initials(props.name)}
      <Show when={props.online}>
        <span class="dot" />
      </Show>
    </span>
  );
}

function preview(c: Chat): string {
  const m = c.last_message;
  if (!m) return t("list.noMessages");
  if (m.deleted) return t("msg.deleted");
  const who = m.kind === "system" ? "" : m.user_id === state.me?.id ? `${t("list.you")}: ` : c.type === "private" ? "" : `${m.user}: `;
  return who + m.text.replace(/\s+/g, " ");
}

/** "bob is typing…" while someone types in the chat. */
function typingIn(chatId: number): string {
  const at = now();
  const names = Object.values(state.typing[chatId] ?? {}).filter((x) => x.until > at).map((x) => x.user);
  if (!names.length) return "";
  return names.length === 1 ? t("chat.typing.one", { a: names[0]! }) : t("chat.typing.many");
}

/** A snippet with its matches in <mark>, built from text nodes only (never parsed as HTML). */
export function Snippet(props: { text: string }) {
  return (
    <For each={parseSnippet(props.text)}>
      {(p) => (p.mark ? <mark>{p.text}</mark> : <>{p.text}</>)}
    </For>
  );
}

/** Full-text results for the search box: messages and files, best first; a click opens the message in context. */
function SearchResults(props: { query: string }) {
  const [items, setItems] = createSignal<SearchItem[]>([]);
  const [cursor, setCursor] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  let generation = 0;
  async function fetchPage(q: string, after?: string) {
    const mine = ++generation;
    setBusy(true);
    try {
      const page = await rest.search(q, { limit: 20, cursor: after });
      if (mine !== generation) return;
      setItems((prev) => (after ? [...prev, ...page.items] : page.items));
      setCursor(page.cursor);
    } catch {
      if (mine === generation && !after) setItems([]);
    } finally {
      if (mine === generation) setBusy(false);
    }
  }
  createEffect(on(() => props.query, (q) => {
    const timer = setTimeout(() => void fetchPage(q), 250);
    onCleanup(() => clearTimeout(timer));
  }));
  const chatOf = (it: SearchItem) => (it.kind === "message" ? it.message.chat_id : it.chat_id);
  const messageOf = (it: SearchItem) => (it.kind === "message" ? it.message.id : it.message_id);
  return (
    <section class="search-results" aria-label={t("search.results")} aria-busy={busy()}>
      <h2 class="search-head">{t("search.results")}</h2>
      <ul>
        <For each={items()} fallback={<li class="muted empty">{busy() ? t("search.searching") : t("search.none")}</li>}>
          {(it) => {
            const c = () => state.chats[chatOf(it)];
            return (
              <li>
                <a
                  class="search-hit"
                  href={`/chat/${chatOf(it)}`}
                  data-kind={it.kind}
                  onClick={(e) => {
                    e.preventDefault();
                    jumpToMessage(chatOf(it), messageOf(it));
                  }}
                >
                  <span class="sh-top">
                    <span class="sh-chat">{c() ? chatTitle(c()!) : "#"}</span>
                    <Show when={it.kind === "message"} fallback={<span class="sh-who">📄 {it.kind === "file" ? it.file.name : ""}</span>}>
                      <span class="sh-who">{it.kind === "message" ? it.message.user : ""}</span>
                    </Show>
                  </span>
                  <span class="sh-snippet"><Snippet text={it.snippet} /></span>
                </a>
              </li>
            );
          }}
        </For>
      </ul>
      <Show when={cursor()}>
        <button class="link-btn" onClick={() => void fetchPage(props.query, cursor()!)}>{t("search.more")}</button>
      </Show>
    </section>
  );
}

/** The sidebar: search, chats by recent activity, unread badges, presence, muted state. */
export function ChatList(props: { onNew: () => void; onSettings: () => void }) {
  const [query, setQuery] = createSignal("");
  const chats = createMemo(() => {
    const q = query().trim().toLowerCase();
    return Object.values(state.chats)
      .filter((c) => !q || chatTitle(c).toLowerCase().includes(q) || c.name.toLowerCase().includes(q))
      .sort((a, b) => (b.last_message?.id ?? 0) - (a.last_message?.id ?? 0) || b.id - a.id);
  });
  let listEl!: HTMLUListElement;

  function onKey(e: KeyboardEvent) {
    const items = [...listEl.querySelectorAll<HTMLAnchorElement>("a.chat-item")];
    const i = items.indexOf(document.activeElement as HTMLAnchorElement);
    if (e.key === "ArrowDown") items[Math.min(items.length - 1, i + 1)]?.focus();
    else if (e.key === "ArrowUp") (i <= 0 ? document.getElementById("chat-search") : items[i - 1])?.focus();
    else return;
    e.preventDefault();
  }

  return (
    <nav class="sidebar" aria-label={t("a11y.chatList")}>
      <h1 class="sr-only">{t("app.name")}</h1>
      <header class="side-head">
        <button class="icon-btn" onClick={props.onSettings} aria-label={t("a11y.openSettings")} title={t("a11y.openSettings")}>☰</button>
        <input
          id="chat-search"
          type="search"
          placeholder={t("list.search")}
          aria-label={t("list.search")}
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              listEl.querySelector<HTMLAnchorElement>("a.chat-item")?.focus();
              e.preventDefault();
            }
          }}
        />
        <button class="icon-btn" onClick={props.onNew} aria-label={t("list.new")} title={t("list.new")}>✎</button>
      </header>
      <Show when={state.conn !== "online"}>
        <div class="conn-banner" role="status">{t(state.conn === "offline" ? "conn.offline" : state.conn === "syncing" ? "conn.syncing" : "conn.connecting")}</div>
      </Show>
      <ul class="chat-list" ref={listEl} onKeyDown={onKey}>
        <For each={chats()} fallback={<li class="muted empty">{state.chatsLoaded ? t("list.empty") : t("chat.loading")}</li>}>
          {(c) => {
            const peer = () => state.peers[c.id];
            const online = () => {
              const p = peer();
              return p !== undefined && state.presence[p]?.status === "online";
            };
            return (
              <li>
                <a
                  class="chat-item"
                  href={`/chat/${c.id}`}
                  aria-current={state.openChat === c.id ? "page" : undefined}
                  data-chat={chatTitle(c)}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/chat/${c.id}`);
                  }}
                >
                  <Avatar name={chatTitle(c)} online={online()} />
                  <span class="ci-body">
                    <span class="ci-top">
                      <span class="ci-name">
                        {chatTitle(c)}
                        <Show when={c.muted}>
                          <span class="muted-icon" title={t("list.muted")} aria-label={t("list.muted")}> 🔕</span>
                        </Show>
                      </span>
                      <Show when={c.last_message}>
                        <time class="ci-time" datetime={c.last_message!.timestamp}>{fmtListTime(c.last_message!.timestamp)}</time>
                      </Show>
                    </span>
                    <span class="ci-bottom">
                      <span class="ci-preview" classList={{ typing: !!typingIn(c.id) }}>{typingIn(c.id) || preview(c)}</span>
                      <Show when={(c.unread ?? 0) > 0}>
                        <span class="badge" classList={{ muted: !!c.muted }} aria-label={t("a11y.unread", { n: c.unread ?? 0 })}>{c.unread}</span>
                      </Show>
                    </span>
                  </span>
                </a>
              </li>
            );
          }}
        </For>
      </ul>
      <Show when={query().trim().length >= 2}>
        <SearchResults query={query().trim()} />
      </Show>
    </nav>
  );
}
