import { createEffect, createSignal, For, Match, Show, Switch } from "solid-js";
import { t } from "../app/i18n";
import { match, navigate, path } from "../app/router";
import { actions, announcement, dismissAlert, state, totalUnread } from "../app/store";
import { errorText } from "../app/errorText";
import { Auth } from "./Auth";
import { ChatList } from "./ChatList";
import { ChatView } from "./ChatView";
import { NewChat } from "./Dialogs";
import { SettingsPanel } from "./Settings";

const PENDING_INVITE = "sova.pendingInvite";

function InviteJoin(props: { code: string }) {
  const [err, setErr] = createSignal("");
  createEffect(() => {
    const code = props.code;
    void actions.join(code).then(
      (chat) => navigate(`/chat/${chat.id}`, true),
      (e) => setErr(e && (e as { code?: string }).code === "not_found" ? t("invite.failed") : errorText(e)),
    );
  });
  return (
    <section class="chat-view empty-view">
      <Show when={err()} fallback={<p role="status">{t("invite.joining")}</p>}>
        <p class="error" role="alert">{err()}</p>
      </Show>
    </section>
  );
}

/** Layout: the chat list beside the open chat (one pane at a time below 720 px). */
export function App() {
  const [newChat, setNewChat] = createSignal(false);
  const [settings, setSettings] = createSignal(false);
  const chatId = () => {
    const m = match(/^\/chat\/(\d+)$/);
    return m ? Number(m[0]) : null;
  };
  const invite = () => match(/^\/invite\/([^/]+)$/)?.[0] ?? null;

  // Signed-out visitors of an invite link join right after signing in.
  createEffect(() => {
    const code = invite();
    if (code && !state.me) sessionStorage.setItem(PENDING_INVITE, code);
    if (state.me && !code) {
      const pending = sessionStorage.getItem(PENDING_INVITE);
      if (pending) {
        sessionStorage.removeItem(PENDING_INVITE);
        navigate(`/invite/${pending}`, true);
      }
    }
  });
  createEffect(() => {
    const n = state.me ? totalUnread() : 0;
    document.title = n > 0 ? `(${n}) Sova` : "Sova";
  });
  createEffect(() => {
    if (path() === "/settings" && state.me) {
      setSettings(true);
      navigate("/", true);
    }
  });

  return (
    <Show when={state.me} fallback={<Auth />}>
      <a class="skip" href="#main">{t("a11y.skip")}</a>
      <div class="shell" classList={{ "has-chat": chatId() !== null || invite() !== null }}>
        <ChatList onNew={() => setNewChat(true)} onSettings={() => setSettings(true)} />
        <main id="main" class="main" tabindex="-1">
          <Switch fallback={<section class="chat-view empty-view"><p class="muted">{t("chat.select")}</p></section>}>
            <Match when={invite()}>{(code) => <InviteJoin code={decodeURIComponent(code())} />}</Match>
            <Match when={chatId() !== null && state.chats[chatId()!]}>
              <ChatView chatId={chatId()!} />
            </Match>
            <Match when={chatId() !== null && !state.chatsLoaded}>
              <section class="chat-view empty-view"><p class="muted">{t("chat.loading")}</p></section>
            </Match>
          </Switch>
        </main>
      </div>
      <div class="sr-only" aria-live="polite">{announcement()}</div>
      <div class="toasts" aria-live="assertive">
        <For each={state.alerts}>
          {(a, i) => (
            <div class="toast" role="alert">
              <span>{t("toast.newDevice", { d: a.device_id || a.user_agent || "?", ip: a.ip })}</span>
              <button class="link" onClick={() => dismissAlert(i())}>{t("toast.dismiss")}</button>
            </div>
          )}
        </For>
      </div>
      <Show when={newChat()}><NewChat onClose={() => setNewChat(false)} /></Show>
      <Show when={settings()}><SettingsPanel onClose={() => setSettings(false)} /></Show>
    </Show>
  );
}
