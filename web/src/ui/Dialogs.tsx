import { createResource, createSignal, For, onCleanup, onMount, Show, type JSX } from "solid-js";
import type { Invite, Message, Role } from "../protocol/types";
import { fmtDateTime, t } from "../app/i18n";
import { navigate } from "../app/router";
import { actions, chatTitle, rest, state } from "../app/store";
import { errorText } from "../app/errorText";
import { Avatar } from "./ChatList";

/** An accessible modal: labelled, Escape closes, focus moves in and returns, Tab stays inside. */
export function Modal(props: { title: string; onClose: () => void; children: JSX.Element; wide?: boolean }) {
  let el!: HTMLDivElement;
  const opener = document.activeElement as HTMLElement | null;
  onMount(() => {
    (el.querySelector<HTMLElement>("[autofocus], input, select, textarea, button:not(.close)") ?? el).focus();
  });
  onCleanup(() => opener?.focus?.());
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      props.onClose();
    } else if (e.key === "Tab") {
      const f = [...el.querySelectorAll<HTMLElement>("button, input, select, textarea, a[href], [tabindex='0']")].filter((x) => !x.hasAttribute("disabled"));
      if (!f.length) return;
      const first = f[0]!;
      const last = f[f.length - 1]!;
      if (e.shiftKey && document.activeElement === first) { last.focus(); e.preventDefault(); }
      else if (!e.shiftKey && document.activeElement === last) { first.focus(); e.preventDefault(); }
    }
  };
  return (
    <div class="overlay" onPointerDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="dialog" classList={{ wide: props.wide }} role="dialog" aria-modal="true" aria-labelledby="dlg-title" ref={el} tabindex="-1" onKeyDown={onKey}>
        <header class="dlg-head">
          <h2 id="dlg-title">{props.title}</h2>
          <button class="icon-btn close" aria-label={t("a11y.close")} onClick={props.onClose}>✕</button>
        </header>
        <div class="dlg-body">{props.children}</div>
      </div>
    </div>
  );
}

export function ForwardDialog(props: { message: Message; onClose: () => void }) {
  const [err, setErr] = createSignal("");
  const targets = () => Object.values(state.chats).filter((c) => c.type !== "channel" || c.role === "owner" || c.role === "admin");
  return (
    <Modal title={t("forward.title")} onClose={props.onClose}>
      <ul class="pick-list">
        <For each={targets()}>
          {(c) => (
            <li>
              <button class="pick" onClick={async () => {
                try {
                  await actions.forward(c.id, props.message.id);
                  props.onClose();
                  navigate(`/chat/${c.id}`);
                } catch (e) {
                  setErr(errorText(e));
                }
              }}>
                <Avatar name={chatTitle(c)} small /> {chatTitle(c)}
              </button>
            </li>
          )}
        </For>
      </ul>
      <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
    </Modal>
  );
}

/** The earlier texts of an edited message, oldest first, then the current one. */
export function VersionsDialog(props: { chatId: number; message: Message; onClose: () => void }) {
  const [list] = createResource(() => rest.versions(props.chatId, props.message.id).catch(() => []));
  return (
    <Modal title={t("msg.versions")} onClose={props.onClose}>
      <ol class="versions">
        <For each={list() ?? []}>{(v) => <li><p>{v.text}</p><time class="muted">{fmtDateTime(v.replaced_at)}</time></li>}</For>
        <li><p><strong>{props.message.text}</strong></p><time class="muted">{props.message.edited_at ? fmtDateTime(props.message.edited_at) : ""}</time></li>
      </ol>
    </Modal>
  );
}

export function NewChat(props: { onClose: () => void }) {
  const [kind, setKind] = createSignal<"private" | "group" | "channel">("private");
  const [name, setName] = createSignal("");
  const [members, setMembers] = createSignal("");
  const [invite, setInvite] = createSignal("");
  const [err, setErr] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  async function create(e: Event) {
    e.preventDefault();
    setErr("");
    setBusy(true);
    try {
      const list = members().split(/[\s,]+/).map((s) => s.replace(/^@/, "")).filter(Boolean);
      const chat = await actions.createChat(kind(), name().trim(), list);
      props.onClose();
      navigate(`/chat/${chat.id}`);
    } catch (x) {
      setErr(errorText(x));
    } finally {
      setBusy(false);
    }
  }
  function join(e: Event) {
    e.preventDefault();
    const code = invite().trim().replace(/^.*\/invite\//, "").replace(/[/?#].*$/, "");
    if (!code) return;
    props.onClose();
    navigate(`/invite/${encodeURIComponent(code)}`);
  }
  return (
    <Modal title={t("new.title")} onClose={props.onClose}>
      <form onSubmit={create} class="stack">
        <fieldset class="seg">
          <legend class="sr-only">{t("new.title")}</legend>
          <For each={["private", "group", "channel"] as const}>
            {(k) => (
              <label class="seg-item">
                <input type="radio" name="kind" value={k} checked={kind() === k} onChange={() => setKind(k)} />
                <span>{t(`new.${k}`)}</span>
              </label>
            )}
          </For>
        </fieldset>
        <Show when={kind() === "private"} fallback={
          <>
            <label>{t("new.name")}<input name="name" required maxLength={128} value={name()} onInput={(e) => setName(e.currentTarget.value)} /></label>
            <label>{t("new.members")}<input name="members" value={members()} onInput={(e) => setMembers(e.currentTarget.value)} /></label>
          </>
        }>
          <label>{t("new.with")}<input name="with" required value={members()} onInput={(e) => setMembers(e.currentTarget.value)} /></label>
        </Show>
        <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
        <button class="primary" type="submit" disabled={busy()}>{t("new.create")}</button>
      </form>
      <hr />
      <form onSubmit={join} class="stack">
        <label>{t("new.join")}<input name="invite" placeholder={t("new.joinHint")} value={invite()} onInput={(e) => setInvite(e.currentTarget.value)} /></label>
        <button type="submit">{t("new.joinBtn")}</button>
      </form>
    </Modal>
  );
}

export function ChatInfo(props: { chatId: number; onClose: () => void }) {
  const chat = () => state.chats[props.chatId]!;
  const role = () => chat()?.role ?? "member";
  const admin = () => role() === "owner" || role() === "admin";
  const managed = () => chat()?.type === "group" || chat()?.type === "channel";
  const [name, setName] = createSignal(chat()?.name ?? "");
  const [add, setAdd] = createSignal("");
  const [err, setErr] = createSignal("");
  const [copied, setCopied] = createSignal("");
  const [invites, { refetch }] = createResource(() => (admin() && managed() ? props.chatId : null), (id) => rest.invites(id).catch(() => [] as Invite[]));
  const [pins] = createResource(() => props.chatId, (id) => rest.pins(id).catch(() => [] as Message[]));
  const run = (fn: () => Promise<unknown>) => async () => {
    setErr("");
    try {
      await fn();
    } catch (e) {
      setErr(errorText(e));
    }
  };
  const link = (code: string) => `${location.origin}/invite/${code}`;
  const rank: Record<Role, number> = { member: 0, admin: 1, owner: 2 };
  return (
    <Modal title={t("info.title")} onClose={props.onClose} wide>
      <Show when={chat()}>
        <div class="info-head">
          <Avatar name={chatTitle(chat())} />
          <div>
            <h3>{chatTitle(chat())}</h3>
            <p class="muted">{t(`new.${chat().type === "public" ? "group" : chat().type}` as "new.group")} · {(chat().member_count === 1 ? t("chat.members.one") : t("chat.members", { n: chat().member_count }))}</p>
          </div>
        </div>
        <Show when={admin() && managed()}>
          <form class="row" onSubmit={(e) => { e.preventDefault(); void run(() => actions.rename(props.chatId, name().trim()))(); }}>
            <label class="grow">{t("info.rename")}<input value={name()} maxLength={128} onInput={(e) => setName(e.currentTarget.value)} /></label>
            <button type="submit">{t("info.save")}</button>
          </form>
        </Show>
        <div class="row">
          <button onClick={run(() => actions.mute(props.chatId, !chat().muted))}>{chat().muted ? t("info.unmute") : t("info.mute")}</button>
        </div>
        <h3>{t("info.members")}</h3>
        <Show when={admin() && managed()}>
          <form class="row" onSubmit={(e) => { e.preventDefault(); void run(async () => { await actions.addMember(props.chatId, add().trim().replace(/^@/, "")); setAdd(""); })(); }}>
            <input class="grow" aria-label={t("info.add")} placeholder={t("info.addPh")} value={add()} onInput={(e) => setAdd(e.currentTarget.value)} />
            <button type="submit">{t("info.add")}</button>
          </form>
        </Show>
        <ul class="member-list">
          <For each={state.members[props.chatId] ?? []}>
            {(m) => (
              <li>
                <Avatar name={m.username} small online={state.presence[m.user_id]?.status === "online"} />
                <span class="grow">{m.username}{m.user_id === state.me?.id ? ` (${t("list.you")})` : ""}</span>
                <Show when={role() === "owner" && managed() && m.user_id !== state.me?.id} fallback={<span class="muted">{t(`role.${m.role}`)}</span>}>
                  <select aria-label={t("info.role", { u: m.username })} value={m.role} onChange={(e) => void run(() => actions.setRole(props.chatId, m.user_id, e.currentTarget.value as Role))()}>
                    <option value="member">{t("role.member")}</option>
                    <option value="admin">{t("role.admin")}</option>
                    <option value="owner">{t("role.owner")}</option>
                  </select>
                </Show>
                <Show when={admin() && managed() && m.user_id !== state.me?.id && rank[m.role] < rank[role()]}>
                  <button class="link danger" onClick={run(() => actions.removeMember(props.chatId, m.user_id))}>{t("info.remove")}</button>
                </Show>
              </li>
            )}
          </For>
        </ul>
        <Show when={admin() && managed()}>
          <h3>{t("info.invites")}</h3>
          <button onClick={run(async () => { await rest.createInvite(props.chatId); await refetch(); })}>{t("info.createInvite")}</button>
          <ul class="invite-list">
            <For each={invites() ?? []}>
              {(inv) => (
                <li classList={{ revoked: inv.revoked }}>
                  <code class="grow">{link(inv.code)}</code>
                  <span class="muted">{inv.revoked ? t("info.revoked") : t("info.uses", { n: inv.uses })}</span>
                  <Show when={!inv.revoked}>
                    <button class="link" onClick={() => { void navigator.clipboard?.writeText(link(inv.code)); setCopied(inv.code); }}>{copied() === inv.code ? t("info.copied") : t("info.copy")}</button>
                    <button class="link danger" onClick={run(async () => { await rest.revokeInvite(props.chatId, inv.code); await refetch(); })}>{t("info.revoke")}</button>
                  </Show>
                </li>
              )}
            </For>
          </ul>
        </Show>
        <h3>{t("info.pins")}</h3>
        <ul class="pins">
          <For each={pins() ?? []} fallback={<li class="muted">{t("info.noPins")}</li>}>
            {(p) => <li><strong>{p.user}</strong>: {p.text.slice(0, 200)} <time class="muted">{fmtDateTime(p.timestamp)}</time></li>}
          </For>
        </ul>
        <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
        <div class="row danger-zone">
          <Show when={managed()}>
            <button class="danger" onClick={run(async () => { await actions.leave(props.chatId); props.onClose(); })}>{t("info.leave")}</button>
          </Show>
          <Show when={managed() && role() === "owner"}>
            <button class="danger" onClick={run(async () => { if (confirm(t("info.deleteConfirm"))) { await actions.deleteChat(props.chatId); props.onClose(); } })}>{t("info.delete")}</button>
          </Show>
        </div>
      </Show>
    </Modal>
  );
}
