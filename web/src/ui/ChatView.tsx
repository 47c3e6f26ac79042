import { createEffect, createMemo, createSignal, on, onCleanup, Show } from "solid-js";
import type { Message } from "../protocol/types";
import type { OutboxEntry } from "../core/outbox";
import { fmtDateTime, t } from "../app/i18n";
import { navigate } from "../app/router";
import { chatTitle, closeChatView, loadAround, loadNewer, loadOlder, markRead, now, openChatView, state, takeJump } from "../app/store";
import { Avatar } from "./ChatList";
import { Composer } from "./Composer";
import { MessageRow, PendingRow, type RowCtx } from "./Message";
import { VirtualList } from "./VirtualList";
import { ChatInfo, ForwardDialog, VersionsDialog } from "./Dialogs";
import { GamesPanel } from "./Games";
import { TaskPanel, type TaskDraft } from "./Tasks";

type Item = Message | OutboxEntry;
const isMsg = (x: Item): x is Message => "id" in x;

/** The conversation: header with presence/typing, pinned bar, virtualized history, composer. */
export function ChatView(props: { chatId: number }) {
  const chat = () => state.chats[props.chatId];
  const box = () => state.messages[props.chatId];
  const [replyTo, setReplyTo] = createSignal<Message | null>(null);
  const [editing, setEditing] = createSignal<Message | null>(null);
  const [forward, setForward] = createSignal<Message | null>(null);
  const [versions, setVersions] = createSignal<Message | null>(null);
  const [info, setInfo] = createSignal(false);
  const [tasks, setTasks] = createSignal(false);
  const [draft, setDraft] = createSignal<TaskDraft | null>(null);
  const [toast, setToast] = createSignal("");
  const [atBottom, setAtBottom] = createSignal(true);
  const [highlight, setHighlight] = createSignal(0);
  let list: { scrollToBottom: () => void; scrollToKey: (k: number | string) => void } | undefined;

  // Where the unread messages start when the chat is opened (a "New messages" divider, and the scroll position).
  const [firstUnread, setFirstUnread] = createSignal(0);
  createEffect(on(() => props.chatId, (id) => {
    setReplyTo(null);
    setEditing(null);
    setInfo(false);
    const c = state.chats[id];
    const unreadFrom = c && (c.unread ?? 0) > 0 ? (c.last_read_seq ?? 0) + 1 : 0;
    setFirstUnread(unreadFrom);
    const jump = takeJump(id);
    void openChatView(id).then(async () => {
      if (jump !== null) {
        if (await loadAround(id, jump)) queueMicrotask(() => showInContext(jump));
        return;
      }
      const first = unreadFrom ? box()?.list.find((m) => m.chat_seq >= unreadFrom && m.user_id !== state.me?.id) : undefined;
      if (first) queueMicrotask(() => list?.scrollToKey(first.id));
    });
  }));
  onCleanup(closeChatView);
  // A jump while this chat is already open (a search result in the same chat).
  createEffect(on(() => state.jump, (j) => {
    if (!j || j.chat !== props.chatId) return;
    const id = takeJump(props.chatId)!;
    void loadAround(props.chatId, id).then((ok) => ok && queueMicrotask(() => showInContext(id)));
  }));

  /** Scrolls to a message and flashes it, so a search result is seen in its context. */
  function showInContext(id: number) {
    list?.scrollToKey(id);
    setHighlight(id);
    setTimeout(() => setHighlight(0), 2500);
  }

  const members = () => state.members[props.chatId] ?? [];
  const items = createMemo<Item[]>(() => {
    const msgs = box()?.list ?? [];
    const have = new Set(msgs.map((m) => m.client_msg_id).filter(Boolean));
    const pending = state.outbox.filter((e) => e.chat_id === props.chatId && !have.has(e.client_msg_id));
    return pending.length ? [...msgs, ...pending] : msgs;
  });

  // Read: while the newest messages are on screen and the tab is visible.
  const [visible, setVisible] = createSignal(!document.hidden);
  const onVis = () => setVisible(!document.hidden);
  document.addEventListener("visibilitychange", onVis);
  onCleanup(() => document.removeEventListener("visibilitychange", onVis));
  createEffect(() => {
    const c = chat();
    if (c && atBottom() && visible() && box()?.hasLatest && c.last_seq > (c.last_read_seq ?? 0)) markRead(props.chatId);
  });

  const typingText = createMemo(() => {
    now();
    const ty = state.typing[props.chatId] ?? {};
    const names = Object.values(ty).filter((x) => x.until > Date.now()).map((x) => x.user);
    if (!names.length) return "";
    if (names.length === 1) return t("chat.typing.one", { a: names[0]! });
    if (names.length === 2) return t("chat.typing.two", { a: names[0]!, b: names[1]! });
    return t("chat.typing.many");
  });
  const peer = () => state.peers[props.chatId];
  const subtitle = () => {
    const c = chat();
    if (!c) return "";
    if (typingText()) return typingText();
    if (c.type === "private" && peer() !== undefined) {
      const p = state.presence[peer()!];
      if (p?.status === "online") return t("chat.online");
      if (p?.last_seen) return t("chat.lastSeen", { t: fmtDateTime(p.last_seen) });
      return "";
    }
    return (c.member_count === 1 ? t("chat.members.one") : t("chat.members", { n: c.member_count }));
  };
  const role = () => chat()?.role ?? "member";
  const admin = () => role() === "owner" || role() === "admin";
  const canPost = () => chat()?.type !== "channel" || admin();
  const pinned = createMemo(() => [...(box()?.list ?? [])].reverse().find((m) => m.pinned && !m.deleted));

  const ctx: RowCtx = {
    get chatId() { return props.chatId; },
    get canPin() { return admin() || chat()?.type === "private"; },
    get canDeleteAny() { return admin(); },
    get canPost() { return canPost(); },
    onReply: (m) => { setEditing(null); setReplyTo(m); },
    onEdit: (m) => { setReplyTo(null); setEditing(m); },
    onForward: (m) => setForward(m),
    onMakeTask: (m) => {
      const first = m.text.split("\n")[0]!.trim();
      const title = [...(first || m.user)].slice(0, 200).join("");
      setDraft({ title, message_id: m.id });
      setTasks(true);
    },
    onVersions: (m) => setVersions(m),
    onJump: (id) => list?.scrollToKey(id),
    onError: (m) => { setToast(m); setTimeout(() => setToast(""), 5000); },
    find: (id) => box()?.list.find((m) => m.id === id),
    readBy: (m) => members().some((x) => x.user_id !== state.me?.id && (x.last_read_seq ?? 0) >= m.chat_seq),
    get firstUnread() { return firstUnread(); },
  };

  const editLast = () => {
    const mine = [...(box()?.list ?? [])].reverse().find((m) => m.user_id === state.me?.id && !m.deleted && m.kind !== "system");
    if (mine) ctx.onEdit(mine);
  };

  return (
    <Show when={chat()} fallback={<section class="chat-view empty-view"><p class="muted">{t("chat.loading")}</p></section>}>
      <section class="chat-view" aria-label={chatTitle(chat()!)}>
        <header class="chat-head">
          <button class="icon-btn back" aria-label={t("chat.back")} onClick={() => navigate("/")}>←</button>
          <button class="head-main" onClick={() => setInfo(true)} aria-haspopup="dialog" title={t("chat.info")}>
            <Avatar name={chatTitle(chat()!)} online={peer() !== undefined && state.presence[peer()!]?.status === "online"} />
            <span class="head-text">
              <span class="head-title">{chatTitle(chat()!)}</span>
              <span class="head-sub" classList={{ typing: !!typingText() }} aria-live="polite">{subtitle()}</span>
            </span>
          </button>
          <button class="icon-btn" aria-label={t("task.panel")} aria-pressed={tasks()} onClick={() => setTasks(!tasks())}>☑</button>
          <button class="icon-btn" aria-label={t("chat.info")} onClick={() => setInfo(true)}>⋮</button>
        </header>
        <Show when={state.conn !== "online"}>
          <div class="conn-banner in-chat" role="status">{t(state.conn === "offline" ? "conn.offline" : state.conn === "syncing" ? "conn.syncing" : "conn.connecting")}</div>
        </Show>
        <Show when={pinned()}>
          <button class="pinned-bar" onClick={() => list?.scrollToKey(pinned()!.id)}>
            <strong>📌 {t("chat.pinned")}</strong>
            <span>{pinned()!.text.slice(0, 140)}</span>
          </button>
        </Show>
        <GamesPanel chatId={props.chatId} onError={ctx.onError} />
        <div class="history">
          <Show when={box()?.atStart}>
            <p class="muted start-note">{t("chat.start")}</p>
          </Show>
          <Show when={!box()?.loading || items().length} fallback={<p class="muted start-note">{t("chat.loading")}</p>}>
            <VirtualList
              items={items()}
              key={(x) => (isMsg(x) ? x.id : `o:${x.client_msg_id}`)}
              label={t("a11y.messages")}
              ref={(api) => (list = api)}
              onTop={() => void loadOlder(props.chatId)}
              onBottom={(b) => {
                setAtBottom(b);
                if (b && box() && !box()!.hasLatest) void loadNewer(props.chatId);
              }}
              render={(x, i) => {
                const prev = () => items()[i() - 1];
                return isMsg(x) ? (
                  <div classList={{ "jump-target": highlight() === x.id }}>
                    <MessageRow m={x} prev={prev()} ctx={ctx} />
                  </div>
                ) : <PendingRow e={x} />;
              }}
            />
          </Show>
          <Show when={!atBottom()}>
            <button class="to-bottom" aria-label={t("chat.toBottom")} onClick={() => list?.scrollToBottom()}>
              ↓
              <Show when={(chat()!.unread ?? 0) > 0}><span class="badge">{chat()!.unread}</span></Show>
            </button>
          </Show>
        </div>
        <Show when={toast()}>
          <div class="toast error" role="alert">{toast()}</div>
        </Show>
        <Show when={canPost()} fallback={<div class="readonly muted">{t("chat.readonly")}</div>}>
          <Composer
            chatId={props.chatId}
            members={members()}
            replyTo={replyTo()}
            editing={editing()}
            onCancel={() => { setReplyTo(null); setEditing(null); }}
            onDone={() => { setReplyTo(null); setEditing(null); list?.scrollToBottom(); }}
            onError={ctx.onError}
            onEditLast={editLast}
          />
        </Show>
        <Show when={forward()}>
          <ForwardDialog message={forward()!} onClose={() => setForward(null)} />
        </Show>
        <Show when={versions()}>
          <VersionsDialog chatId={props.chatId} message={versions()!} onClose={() => setVersions(null)} />
        </Show>
        <Show when={info()}>
          <ChatInfo chatId={props.chatId} onClose={() => setInfo(false)} />
        </Show>
        <Show when={tasks()}>
          <TaskPanel chatId={props.chatId} draft={draft()} onDraftUsed={() => setDraft(null)} onClose={() => setTasks(false)} />
        </Show>
      </section>
    </Show>
  );
}
