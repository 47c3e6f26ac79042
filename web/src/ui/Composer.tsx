import { createEffect, createMemo, createSignal, For, on, Show } from "solid-js";
import type { FileInfo, Member, Message } from "../protocol/types";
import { t } from "../app/i18n";
import { actions, rest, sendText, state, tokens } from "../app/store";
import { errorText } from "../app/errorText";
import { humanSize, uploadFile, type UploadHandle } from "../core/files";

/** A file being attached: uploading (progress), uploaded (`file`) or failed (`error`). */
interface Pending {
  key: number;
  name: string;
  sent: number;
  total: number;
  file?: FileInfo;
  error?: string;
  handle?: UploadHandle;
}

export const EMOJI = "😀 😃 😄 😁 😆 😅 😂 🤣 😊 😇 🙂 😉 😍 🥰 😘 😋 😜 🤔 🤨 😐 😑 😶 🙄 😏 😴 😎 🤓 😕 😟 😮 😲 😳 🥺 😢 😭 😱 😡 🤯 🥳 🤗 👍 👎 👌 ✌️ 🤞 👏 🙌 🙏 💪 👋 ❤️ 🧡 💛 💚 💙 💜 🖤 💔 🔥 ✨ 🎉 🎂 🎁 ⭐ ☀️ 🌙 ☕ 🍕 🍻 🚀 ✅ ❌ ❓ ❗ 💯 👀".split(" ");

interface Props {
  chatId: number;
  members: Member[];
  replyTo: Message | null;
  editing: Message | null;
  onCancel: () => void;
  onDone: () => void;
  onError: (m: string) => void;
  /** Edit the last own message (ArrowUp in an empty composer). */
  onEditLast: () => void;
}

/** Multi-line composer: Enter sends, Shift+Enter breaks the line; emoji panel; @mention autocomplete; typing pings;
 *  files attached with the 📎 button, drag-and-drop or paste, uploaded at once with progress and cancel. */
export function Composer(props: Props) {
  const [text, setText] = createSignal("");
  const [pending, setPending] = createSignal<Pending[]>([]);
  let nextKey = 0;
  let picker!: HTMLInputElement;
  const ready = () => pending().filter((p) => p.file);
  const uploading = () => pending().some((p) => !p.file && !p.error);
  const patch = (key: number, change: Partial<Pending>) =>
    setPending((list) => list.map((p) => (p.key === key ? { ...p, ...change } : p)));

  async function attach(files: FileList | File[] | null | undefined) {
    for (const f of Array.from(files ?? [])) {
      const key = nextKey++;
      setPending((list) => [...list, { key, name: f.name, sent: 0, total: f.size }]);
      const token = await tokens.token(false);
      if (!token) {
        patch(key, { error: t("composer.uploadFailed") });
        continue;
      }
      const handle = uploadFile("", token, f, f.name, (sent, total) => patch(key, { sent, total }));
      patch(key, { handle });
      handle.done.then(
        (file) => patch(key, { file, handle: undefined }),
        (e: unknown) => {
          if (pending().some((p) => p.key === key)) patch(key, { error: errorText(e), handle: undefined });
        },
      );
    }
  }

  function remove(key: number) {
    const p = pending().find((x) => x.key === key);
    setPending((list) => list.filter((x) => x.key !== key));
    p?.handle?.cancel();
  }
  const [emoji, setEmoji] = createSignal(false);
  const [mention, setMention] = createSignal<{ start: number; q: string } | null>(null);
  const [sel, setSel] = createSignal(0);
  let ta!: HTMLTextAreaElement;
  let lastTyping = 0;
  const drafts = new Map<number, string>();

  // Per-chat drafts; editing preloads the message text.
  createEffect(on(() => props.chatId, (id, prev) => {
    if (prev !== undefined) drafts.set(prev, text());
    setText(drafts.get(id) ?? "");
    setEmoji(false);
    queueMicrotask(resize);
    // With a keyboard and a mouse, opening a chat puts the cursor in the composer (not on phones: no keyboard pop-up).
    if (matchMedia("(pointer: fine)").matches) queueMicrotask(() => ta.focus());
  }));
  createEffect(on(() => props.editing, (m) => {
    if (m) {
      setText(m.text);
      queueMicrotask(() => { resize(); ta.focus(); });
    }
  }));
  createEffect(on(() => props.replyTo, (m) => m && ta.focus()));

  const candidates = createMemo(() => {
    const m = mention();
    if (!m) return [];
    const q = m.q.toLowerCase();
    return props.members.filter((x) => x.user_id !== state.me?.id && x.username.toLowerCase().startsWith(q)).slice(0, 6);
  });

  function resize() {
    ta.style.setProperty("height", "auto");
    ta.style.setProperty("height", `${Math.min(ta.scrollHeight, 200)}px`);
  }

  function onInput() {
    setText(ta.value);
    resize();
    const pos = ta.selectionStart;
    const before = ta.value.slice(0, pos);
    const m = /(^|[^\p{L}\p{N}_.-])@([\p{L}\p{N}_.-]{0,32})$/u.exec(before);
    setMention(m ? { start: pos - m[2]!.length - 1, q: m[2]! } : null);
    setSel(0);
    if (ta.value.trim() && Date.now() - lastTyping > 4000 && !props.editing) {
      lastTyping = Date.now();
      actions.typing(props.chatId);
    }
  }

  function insert(s: string, from = ta.selectionStart, to = ta.selectionEnd) {
    ta.setRangeText(s, from, to, "end");
    setText(ta.value);
    resize();
    ta.focus();
  }

  function pick(m: Member) {
    const mm = mention();
    if (!mm) return;
    insert(`@${m.username} `, mm.start, ta.selectionStart);
    setMention(null);
  }

  async function submit() {
    const value = text().trim();
    const files = props.editing || uploading() ? [] : ready();
    if (!value && !files.length) return;
    if (files.length) {
      const reply = props.replyTo?.id;
      try {
        await rest.post(props.chatId, { text: value || undefined, files: files.map((p) => p.file!.id), reply_to: reply });
        setPending((list) => list.filter((p) => !files.includes(p)));
        setText("");
        ta.value = "";
        resize();
        props.onDone();
      } catch (e) {
        props.onError(errorText(e));
      }
      return;
    }
    if (!value) return;
    if (props.editing) {
      const m = props.editing;
      try {
        if (value !== m.text) await actions.edit(props.chatId, m.id, value);
        setText("");
        props.onDone();
      } catch (e) {
        props.onError(errorText(e));
      }
      return;
    }
    const reply = props.replyTo?.id;
    lastTyping = 0;
    setEmoji(false);
    setText("");
    ta.value = "";
    resize();
    props.onDone();
    await sendText(props.chatId, value, reply);
  }

  function onKey(e: KeyboardEvent) {
    const c = candidates();
    if (mention() && c.length) {
      if (e.key === "ArrowDown") { setSel((sel() + 1) % c.length); e.preventDefault(); return; }
      if (e.key === "ArrowUp") { setSel((sel() - 1 + c.length) % c.length); e.preventDefault(); return; }
      if (e.key === "Enter" || e.key === "Tab") { pick(c[sel()]!); e.preventDefault(); return; }
      if (e.key === "Escape") { setMention(null); e.preventDefault(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    } else if (e.key === "Escape" && (props.replyTo || props.editing)) {
      setText(props.editing ? "" : text());
      props.onCancel();
    } else if (e.key === "ArrowUp" && !text()) {
      props.onEditLast();
      e.preventDefault();
    }
  }

  return (
    <div
      class="composer"
      onDragOver={(e) => { if (e.dataTransfer?.types.includes("Files")) e.preventDefault(); }}
      onDrop={(e) => { if (e.dataTransfer?.files.length) { e.preventDefault(); void attach(e.dataTransfer.files); } }}
    >
      <Show when={pending().length}>
        <ul class="uploads" aria-label={t("composer.attach")}>
          <For each={pending()}>
            {(p) => (
              <li classList={{ failed: !!p.error }}>
                <span class="file-name">{p.name}</span>
                <Show when={!p.file && !p.error}>
                  <progress max={p.total || 1} value={p.sent} aria-label={p.name} />
                </Show>
                <span class="muted">{p.error ?? humanSize(p.total)}</span>
                <button class="icon-btn" aria-label={`${t("composer.removeFile")} ${p.name}`} onClick={() => remove(p.key)}>✕</button>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={props.replyTo || props.editing}>
        <div class="compose-ctx">
          <span>{props.editing ? t("composer.editing") : t("composer.replyTo", { u: props.replyTo!.user })}</span>
          <span class="muted ctx-text">{(props.editing ?? props.replyTo)!.text.slice(0, 100)}</span>
          <button class="icon-btn" aria-label={t("composer.cancel")} onClick={() => { if (props.editing) setText(""); props.onCancel(); }}>✕</button>
        </div>
      </Show>
      <Show when={mention() && candidates().length}>
        <ul class="mentions" role="listbox" aria-label={t("composer.mentions")}>
          <For each={candidates()}>
            {(m, i) => (
              <li role="option" aria-selected={i() === sel()} classList={{ active: i() === sel() }} onPointerDown={(e) => { e.preventDefault(); pick(m); }}>
                @{m.username}
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={emoji()}>
        <div class="emoji-panel" role="group" aria-label={t("composer.emoji")}>
          <For each={EMOJI}>{(e) => <button class="emoji-btn" aria-label={e} onClick={() => insert(e)}>{e}</button>}</For>
        </div>
      </Show>
      <div class="compose-row">
        <button class="icon-btn" aria-label={t("composer.emoji")} aria-expanded={emoji()} title={t("composer.emoji")} onClick={() => setEmoji(!emoji())}>☺</button>
        <Show when={!props.editing}>
          <button class="icon-btn" aria-label={t("composer.attach")} title={t("composer.attach")} onClick={() => picker.click()}>📎</button>
          <input ref={picker} type="file" multiple hidden onChange={(e) => { void attach(e.currentTarget.files); e.currentTarget.value = ""; }} />
        </Show>
        <textarea
          ref={ta}
          rows="1"
          value={text()}
          placeholder={t("composer.placeholder")}
          aria-label={t("composer.placeholder")}
          onInput={onInput}
          onKeyDown={onKey}
          onPaste={(e) => { if (e.clipboardData?.files.length) { e.preventDefault(); void attach(e.clipboardData.files); } }}
          onBlur={() => setTimeout(() => setMention(null), 150)}
        />
        <button class="send" aria-label={t("composer.send")} title={t("composer.send")} disabled={uploading() || (!text().trim() && !ready().length)} onClick={() => void submit()}>➤</button>
      </div>
    </div>
  );
}
