import { createEffect, createSignal, For, onCleanup, onMount, Show } from "solid-js";
import type { FileAttachment, Message } from "../protocol/types";
import type { OutboxEntry } from "../core/outbox";
import { render } from "../app/markdown";
import { fmtDate, fmtTime, t } from "../app/i18n";
import { actions, discardOutbox, retryOutbox, state, tokens } from "../app/store";
import { downloadFile, humanSize, isPreviewable } from "../core/files";
import { Modal } from "./Dialogs";
import { errorText } from "../app/errorText";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🎉", "🔥", "👎"];

/** Message text rendered as safe markdown (DOM nodes built with textContent). */
export function Md(props: { text: string }) {
  const el = document.createElement("span");
  el.className = "md";
  createEffect(() => el.replaceChildren(...render(props.text)));
  return el;
}

export function dayLabel(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const y = new Date();
  y.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return t("chat.today");
  if (d.toDateString() === y.toDateString()) return t("chat.yesterday");
  return fmtDate(iso);
}

export interface RowCtx {
  chatId: number;
  canPin: boolean;
  canDeleteAny: boolean;
  canPost: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onForward: (m: Message) => void;
  /** "Make a task" from this message. */
  onMakeTask: (m: Message) => void;
  onVersions: (m: Message) => void;
  onJump: (id: number) => void;
  onError: (msg: string) => void;
  find: (id: number) => Message | undefined;
  readBy: (m: Message) => boolean;
  /** chat_seq of the first message that was unread when the chat was opened (0: none). */
  firstUnread: number;
}

/** The bytes of an attachment, fetched with the session's token. */
async function fileBlob(id: string): Promise<Blob> {
  const token = await tokens.token(false);
  if (!token) throw new Error("signed out");
  return downloadFile("", token, id);
}

/** One attached file: a preview for images, name, size and a download button. */
function FileCard(props: { f: FileAttachment }) {
  const [url, setUrl] = createSignal<string | null>(null);
  const [gone, setGone] = createSignal(false);
  const [viewing, setViewing] = createSignal(false);
  onMount(() => {
    if (isPreviewable(props.f.mime)) fileBlob(props.f.file_id).then((b) => setUrl(URL.createObjectURL(b))).catch(() => setGone(true));
  });
  onCleanup(() => {
    const u = url();
    if (u) URL.revokeObjectURL(u);
  });
  const save = async () => {
    try {
      const u = URL.createObjectURL(await fileBlob(props.f.file_id));
      const a = document.createElement("a");
      a.href = u;
      a.download = props.f.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(u), 60_000);
    } catch {
      setGone(true);
    }
  };
  return (
    <div class="file-card">
      <Show when={url()}>
        <button class="file-open" aria-label={`${t("file.view")} ${props.f.name}`} onClick={() => setViewing(true)}>
          <img class="file-preview" src={url()!} alt={props.f.name} width={props.f.width} height={props.f.height} />
        </button>
      </Show>
      <Show when={viewing() && url()}>
        <Modal title={props.f.name} wide onClose={() => setViewing(false)}>
          <img class="file-full" src={url()!} alt={props.f.name} />
        </Modal>
      </Show>
      <div class="file-row">
        <span class="file-name">{props.f.name}</span>
        <span class="muted">{humanSize(props.f.size)}</span>
        <Show when={!gone()} fallback={<em class="muted">{t("file.unavailable")}</em>}>
          <button class="file-dl" onClick={() => void save()} aria-label={`${t("file.download")} ${props.f.name}`}>⬇ {t("file.download")}</button>
        </Show>
      </div>
    </div>
  );
}

function ReactionBar(props: { m: Message; ctx: RowCtx }) {
  return (
    <Show when={props.m.reactions?.length}>
      <div class="reactions" role="group" aria-label={t("a11y.reactions")}>
        <For each={props.m.reactions}>
          {(r) => (
            <button
              class="chip"
              classList={{ mine: !!r.me }}
              aria-pressed={!!r.me}
              aria-label={`${r.emoji} ${r.count}`}
              onClick={() => actions.react(props.ctx.chatId, props.m.id, r.emoji, !r.me).catch((e) => props.ctx.onError(errorText(e)))}
            >
              {r.emoji} {r.count}
            </button>
          )}
        </For>
      </div>
    </Show>
  );
}

function Menu(props: { m: Message; ctx: RowCtx; mine: boolean; close: () => void }) {
  let el!: HTMLDivElement;
  const run = (fn: () => Promise<unknown> | void) => () => {
    props.close();
    void Promise.resolve(fn()).catch((e) => props.ctx.onError(errorText(e)));
  };
  onMount(() => {
    // Open upwards when there is no room below (near the composer).
    const box = el.closest(".vlist")?.getBoundingClientRect();
    if (box && el.getBoundingClientRect().bottom > box.bottom) el.classList.add("up");
    el.querySelector<HTMLButtonElement>("button")?.focus();
    const away = (e: Event) => { if (!el.contains(e.target as Node)) props.close(); };
    setTimeout(() => document.addEventListener("pointerdown", away), 0);
    onCleanup(() => document.removeEventListener("pointerdown", away));
  });
  const onKey = (e: KeyboardEvent) => {
    const items = [...el.querySelectorAll<HTMLButtonElement>("button")];
    const i = items.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === "Escape") props.close();
    else if (e.key === "ArrowDown" || e.key === "ArrowRight") items[(i + 1) % items.length]?.focus();
    else if (e.key === "ArrowUp" || e.key === "ArrowLeft") items[(i - 1 + items.length) % items.length]?.focus();
    else return;
    e.preventDefault();
  };
  const has = (emoji: string) => !!props.m.reactions?.find((r) => r.emoji === emoji && r.me);
  return (
    <div class="menu" role="menu" ref={el} onKeyDown={onKey} aria-label={t("msg.actions")}>
      <div class="quick" role="group" aria-label={t("msg.react")}>
        <For each={QUICK_REACTIONS}>
          {(e) => (
            <button role="menuitem" class="emoji-btn" aria-label={`${t("msg.react")} ${e}`} onClick={run(() => actions.react(props.ctx.chatId, props.m.id, e, !has(e)))}>{e}</button>
          )}
        </For>
      </div>
      <Show when={props.ctx.canPost}>
        <button role="menuitem" onClick={run(() => props.ctx.onReply(props.m))}>↩ {t("msg.reply")}</button>
      </Show>
      <Show when={props.mine && props.m.kind !== "system"}>
        <button role="menuitem" onClick={run(() => props.ctx.onEdit(props.m))}>✎ {t("msg.edit")}</button>
      </Show>
      <Show when={props.ctx.canPin}>
        <button role="menuitem" onClick={run(() => actions.pin(props.ctx.chatId, props.m.id, !props.m.pinned))}>📌 {props.m.pinned ? t("msg.unpin") : t("msg.pin")}</button>
      </Show>
      <button role="menuitem" onClick={run(() => props.ctx.onForward(props.m))}>↪ {t("msg.forward")}</button>
      <Show when={props.ctx.canPost && props.m.kind !== "system" && !props.m.deleted}>
        <button role="menuitem" onClick={run(() => props.ctx.onMakeTask(props.m))}>☑ {t("task.fromMessage")}</button>
      </Show>
      <Show when={props.m.edited_at}>
        <button role="menuitem" onClick={run(() => props.ctx.onVersions(props.m))}>🕘 {t("msg.versions")}</button>
      </Show>
      <button role="menuitem" onClick={run(() => navigator.clipboard?.writeText(props.m.text))}>⧉ {t("msg.copy")}</button>
      <Show when={props.mine || props.ctx.canDeleteAny}>
        <button role="menuitem" class="danger" onClick={run(() => { if (confirm(t("msg.deleteConfirm"))) return actions.remove(props.ctx.chatId, props.m.id); })}>🗑 {t("msg.delete")}</button>
      </Show>
    </div>
  );
}

/** One history row: day separator, sender, reply quote, forward origin, text, reactions, time, receipt. */
export function MessageRow(props: { m: Message; prev?: Message | OutboxEntry; ctx: RowCtx }) {
  const [menu, setMenu] = createSignal(false);
  const mine = () => props.m.user_id === state.me?.id;
  const newDay = () => !props.prev || new Date(ts(props.prev)).toDateString() !== new Date(props.m.timestamp).toDateString();
  const showName = () => {
    const p = props.prev;
    if (mine() || props.m.kind === "system") return false;
    if (!p || newDay() || !("id" in p) || p.kind === "system") return true;
    return p.user_id !== props.m.user_id || Date.parse(props.m.timestamp) - Date.parse(p.timestamp) > 5 * 60_000;
  };
  const replied = () => (props.m.reply_to ? props.ctx.find(props.m.reply_to) : undefined);
  return (
    <div class="row-wrap">
      <Show when={newDay()}>
        <div class="day-sep" role="separator"><span>{dayLabel(props.m.timestamp)}</span></div>
      </Show>
      <Show when={props.ctx.firstUnread > 0 && props.m.chat_seq === props.ctx.firstUnread}>
        <div class="unread-sep" role="separator"><span>{t("chat.newMessages")}</span></div>
      </Show>
      <Show
        when={props.m.kind !== "system"}
        fallback={<div class="system-msg" data-mid={props.m.id}>{props.m.text}</div>}
      >
        <div
          class="msg"
          classList={{ own: mine(), deleted: !!props.m.deleted }}
          data-mid={props.m.id}
          data-text={props.m.text}
          onContextMenu={(e) => {
            // Right click, or a long press on touch screens, opens the actions menu.
            if (props.m.deleted || (e.target as HTMLElement).closest("a")) return;
            e.preventDefault();
            setMenu(true);
          }}
        >
          <div class="bubble">
            <Show when={showName()}>
              <div class="sender">{props.m.user}</div>
            </Show>
            <Show when={props.m.forward}>
              <div class="fwd">{t("msg.forwarded", { u: props.m.forward!.user })}</div>
            </Show>
            <Show when={props.m.reply_to}>
              <button class="quote" onClick={() => props.ctx.onJump(props.m.reply_to!)}>
                <strong>{replied()?.user ?? "…"}</strong>
                <span>{replied() ? (replied()!.deleted ? t("msg.deleted") : replied()!.text.slice(0, 120)) : ""}</span>
              </button>
            </Show>
            <div class="text">
              <Show when={!props.m.deleted} fallback={<em class="muted">{t("msg.deleted")}</em>}>
                <Md text={props.m.text} />
              </Show>
            </div>
            <Show when={!props.m.deleted && props.m.attachments?.length}>
              <div class="files">
                <For each={props.m.attachments}>{(f) => <FileCard f={f} />}</For>
              </div>
            </Show>
            <div class="meta">
              <Show when={props.m.pinned}><span aria-label={t("chat.pinned")}>📌</span></Show>
              <Show when={props.m.edited_at && !props.m.deleted}><span class="edited">{t("msg.edited")}</span></Show>
              <time datetime={props.m.timestamp}>{fmtTime(props.m.timestamp)}</time>
              <Show when={mine()}>
                <span class="receipt" classList={{ read: props.ctx.readBy(props.m) }} aria-label={props.ctx.readBy(props.m) ? t("msg.read") : t("msg.sent")} title={props.ctx.readBy(props.m) ? t("msg.read") : t("msg.sent")}>
                  {props.ctx.readBy(props.m) ? "✓✓" : "✓"}
                </span>
              </Show>
            </div>
          </div>
          <Show when={!props.m.deleted}>
            <button class="more" aria-haspopup="menu" aria-expanded={menu()} aria-label={t("msg.actions")} onClick={() => setMenu(!menu())}>⋯</button>
          </Show>
          <Show when={menu()}>
            <Menu m={props.m} ctx={props.ctx} mine={mine()} close={() => setMenu(false)} />
          </Show>
        </div>
        <ReactionBar m={props.m} ctx={props.ctx} />
      </Show>
    </div>
  );
}

function ts(x: Message | OutboxEntry): string {
  return "id" in x ? x.timestamp : new Date(x.created_at).toISOString();
}

/** A message still in the outbox: sending, or failed with retry/discard. */
export function PendingRow(props: { e: OutboxEntry }) {
  return (
    <div class="msg own pending" data-pending={props.e.client_msg_id} data-text={props.e.text}>
      <div class="bubble">
        <div class="text"><Md text={props.e.text} /></div>
        <div class="meta">
          <time>{fmtTime(new Date(props.e.created_at).toISOString())}</time>
          <Show when={props.e.state === "failed"} fallback={<span class="receipt" aria-label={t("msg.sending")} title={t("msg.sending")}>🕓</span>}>
            <span class="error">{t("msg.failed", { why: t(`err.${props.e.error ?? "internal"}` as Parameters<typeof t>[0]) })}</span>
            <button class="link" onClick={() => void retryOutbox(props.e.client_msg_id)}>{t("msg.retry")}</button>
            <button class="link" onClick={() => void discardOutbox(props.e.client_msg_id)}>{t("msg.discard")}</button>
          </Show>
        </div>
      </div>
    </div>
  );
}

export { errorText };
