import { createEffect, createMemo, createSignal, For, on, Show } from "solid-js";
import type { Member, Message } from "../protocol/types";
import { t } from "../app/i18n";
import { actions, sendText, state } from "../app/store";
import { errorText } from "../app/errorText";

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

/** Multi-line composer: Enter sends, Shift+Enter breaks the line; emoji panel; @mention autocomplete; typing pings. */
export function Composer(props: Props) {
  const [text, setText] = createSignal("");
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
    <div class="composer">
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
        <textarea
          ref={ta}
          rows="1"
          value={text()}
          placeholder={t("composer.placeholder")}
          aria-label={t("composer.placeholder")}
          onInput={onInput}
          onKeyDown={onKey}
          onBlur={() => setTimeout(() => setMention(null), 150)}
        />
        <button class="send" aria-label={t("composer.send")} title={t("composer.send")} disabled={!text().trim()} onClick={() => void submit()}>➤</button>
      </div>
    </div>
  );
}
