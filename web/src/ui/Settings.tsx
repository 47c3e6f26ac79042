import { createResource, createSignal, For, Show } from "solid-js";
import type { GameKind, Session, TotpSetup } from "../protocol/types";
import { fmtDateTime, t } from "../app/i18n";
import { PRESET_SCHEMES, type Settings as S } from "../app/settings";
import { rest, saveSettings, signOut, state } from "../app/store";
import { errorText } from "../app/errorText";
import { Modal } from "./Dialogs";
import { installPrompt, promptInstall } from "../app/pwa";

function Appearance() {
  const s = () => state.settings;
  const set = (p: Partial<S>) => void saveSettings(p);
  return (
    <section aria-labelledby="sec-appearance" class="stack">
      <h3 id="sec-appearance">{t("settings.appearance")}</h3>
      <label>{t("settings.theme")}
        <select name="theme" value={s().theme} onChange={(e) => set({ theme: e.currentTarget.value as S["theme"] })}>
          <option value="system">{t("settings.theme.system")}</option>
          <option value="light">{t("settings.theme.light")}</option>
          <option value="dark">{t("settings.theme.dark")}</option>
        </select>
      </label>
      <fieldset class="seg">
        <legend>{t("settings.scheme")}</legend>
        <For each={Object.keys(PRESET_SCHEMES)}>
          {(k) => (
            <button type="button" class="swatch" data-scheme={k} aria-pressed={JSON.stringify(PRESET_SCHEMES[k]) === JSON.stringify(s().scheme)} onClick={() => set({ scheme: PRESET_SCHEMES[k]! })}>
              {t(`settings.scheme.${k}` as "settings.scheme.default")}
            </button>
          )}
        </For>
      </fieldset>
      <div class="row wrap">
        <label class="color">{t("settings.accent")}<input type="color" value={s().scheme.accent || "#2b6cb0"} onChange={(e) => set({ scheme: { ...s().scheme, accent: e.currentTarget.value } })} /></label>
        <label class="color">{t("settings.background")}<input type="color" value={s().scheme.background || "#ffffff"} onChange={(e) => set({ scheme: { ...s().scheme, background: e.currentTarget.value } })} /></label>
        <label class="color">{t("settings.bubble")}<input type="color" value={s().scheme.bubbleOwn || "#dbeafe"} onChange={(e) => set({ scheme: { ...s().scheme, bubbleOwn: e.currentTarget.value } })} /></label>
        <button type="button" onClick={() => set({ scheme: PRESET_SCHEMES.default! })}>{t("settings.resetColors")}</button>
      </div>
      <label>{t("settings.fontSize", { n: s().fontSize })}
        <input type="range" min="12" max="22" step="1" value={s().fontSize} onInput={(e) => set({ fontSize: Number(e.currentTarget.value) })} />
      </label>
      <label>{t("settings.density")}
        <select name="density" value={s().density} onChange={(e) => set({ density: e.currentTarget.value as S["density"] })}>
          <option value="comfortable">{t("settings.density.comfortable")}</option>
          <option value="compact">{t("settings.density.compact")}</option>
        </select>
      </label>
      <label>{t("settings.language")}
        <select name="lang" value={s().lang} onChange={(e) => set({ lang: e.currentTarget.value as S["lang"] })}>
          <option value="auto">{t("settings.language.auto")}</option>
          <option value="en">English</option>
          <option value="ru">Русский</option>
        </select>
      </label>
    </section>
  );
}

function Notifications() {
  const [perm, setPerm] = createSignal(typeof Notification === "undefined" ? "denied" : Notification.permission);
  return (
    <section aria-labelledby="sec-notif" class="stack">
      <h3 id="sec-notif">{t("settings.notifications")}</h3>
      <label class="check">
        <input type="checkbox" checked={state.settings.notifications && perm() === "granted"} disabled={perm() === "denied"} onChange={async (e) => {
          const on = e.currentTarget.checked;
          if (on && typeof Notification !== "undefined" && Notification.permission === "default") setPerm(await Notification.requestPermission());
          void saveSettings({ notifications: on });
        }} />
        {t("settings.notify")}
      </label>
      <Show when={perm() === "denied"}><small class="muted">{t("settings.notifyDenied")}</small></Show>
    </section>
  );
}

function TwoFactor() {
  const [status, { refetch }] = createResource(() => rest.totpStatus().catch(() => null));
  const [setup, setSetup] = createSignal<TotpSetup | null>(null);
  const [codes, setCodes] = createSignal<string[] | null>(null);
  const [code, setCode] = createSignal("");
  const [password, setPassword] = createSignal("");
  const [err, setErr] = createSignal("");
  const run = (fn: () => Promise<unknown>) => async (e?: Event) => {
    e?.preventDefault();
    setErr("");
    try {
      await fn();
    } catch (x) {
      setErr(errorText(x, "2fa"));
    }
  };
  const qr = (svg: string) => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  return (
    <section aria-labelledby="sec-2fa" class="stack">
      <h3 id="sec-2fa">{t("sec.2fa")}</h3>
      <p>{status()?.enabled ? t("sec.2fa.on", { n: status()!.backup_codes_left }) : t("sec.2fa.off")}</p>
      <Show when={codes()}>
        <div class="backup" role="status">
          <p>{t("sec.2fa.backup")}</p>
          <ul class="codes"><For each={codes()!}>{(c) => <li><code>{c}</code></li>}</For></ul>
          <button onClick={() => setCodes(null)}>{t("sec.2fa.done")}</button>
        </div>
      </Show>
      <Show when={!status()?.enabled && !setup()}>
        <button onClick={run(async () => setSetup(await rest.totpSetup()))}>{t("sec.2fa.setup")}</button>
      </Show>
      <Show when={setup() && !status()?.enabled}>
        <p>{t("sec.2fa.scan")}</p>
        <img class="qr" src={qr(setup()!.qr_svg)} alt={t("sec.2fa.qrAlt")} width="200" height="200" />
        <code class="secret">{setup()!.secret}</code>
        <form class="row" onSubmit={run(async () => { const r = await rest.totpEnable(code().trim()); setCodes(r.backup_codes); setSetup(null); setCode(""); await refetch(); })}>
          <label class="grow">{t("sec.2fa.enter")}<input name="totp" inputmode="numeric" autocomplete="one-time-code" value={code()} onInput={(e) => setCode(e.currentTarget.value)} /></label>
          <button type="submit" class="primary">{t("sec.2fa.enable")}</button>
        </form>
      </Show>
      <Show when={status()?.enabled}>
        <form class="stack" onSubmit={(e) => e.preventDefault()}>
          <label>{t("auth.2fa.code")}<input name="code2" value={code()} autocomplete="one-time-code" onInput={(e) => setCode(e.currentTarget.value)} /></label>
          <button type="button" onClick={run(async () => { const r = await rest.totpBackupCodes(code().trim()); setCodes(r.backup_codes); setCode(""); await refetch(); })}>{t("sec.2fa.newCodes")}</button>
          <label>{t("auth.password")}<input type="password" autocomplete="current-password" value={password()} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
          <button type="button" class="danger" onClick={run(async () => { await rest.totpDisable(password(), code().trim()); setCode(""); setPassword(""); await refetch(); })}>{t("sec.2fa.disable")}</button>
        </form>
      </Show>
      <Show when={err()}><p class="error" role="alert">{err()}</p></Show>
    </section>
  );
}

function Sessions() {
  const [list, { refetch }] = createResource(() => rest.sessions().catch(() => [] as Session[]));
  const [alerts] = createResource(() => rest.alerts().catch(() => []));
  const [msg, setMsg] = createSignal("");
  return (
    <>
      <section aria-labelledby="sec-sessions" class="stack">
        <h3 id="sec-sessions">{t("sec.sessions")}</h3>
        <ul class="sessions">
          <For each={list() ?? []}>
            {(s) => (
              <li>
                <div class="grow">
                  <strong>{s.user_agent.slice(0, 60) || s.device_id}</strong>
                  <Show when={s.current}> <span class="tag">{t("sec.current")}</span></Show>
                  <div class="muted">{s.ip} · {s.location} · {t("sec.lastActive", { t: fmtDateTime(s.last_active) })}</div>
                </div>
                <Show when={!s.current}>
                  <button class="link danger" onClick={async () => { await rest.revokeSession(s.id).catch(() => undefined); await refetch(); }}>{t("sec.revoke")}</button>
                </Show>
              </li>
            )}
          </For>
        </ul>
        <button onClick={async () => { const r = await rest.revokeOthers(); setMsg(t("sec.revokedN", { n: r.revoked })); await refetch(); }}>{t("sec.revokeOthers")}</button>
        <Show when={msg()}><p role="status">{msg()}</p></Show>
      </section>
      <section aria-labelledby="sec-alerts" class="stack">
        <h3 id="sec-alerts">{t("sec.alerts")}</h3>
        <ul class="alerts">
          <For each={alerts() ?? []} fallback={<li class="muted">{t("sec.noAlerts")}</li>}>
            {(a) => <li><span>{t("sec.alert.new_device", { d: a.detail })}</span> <span class="muted">{a.ip} · {fmtDateTime(a.at)}</span></li>}
          </For>
        </ul>
      </section>
    </>
  );
}

/** My games: statistics, achievements and the global leaderboard of one kind. */
function GamesSection() {
  const [kind, setKind] = createSignal<GameKind>("tictactoe");
  const [stats] = createResource(() => state.me?.id, (id) => rest.userStats(id));
  const [board] = createResource(kind, (k) => rest.leaderboard({ kind: k, limit: 10 }));
  return (
    <>
      <section aria-labelledby="sec-games" class="stack">
        <h3 id="sec-games">{t("game.stats")}</h3>
        <Show when={stats()}>
          <p class="my-games">{t("game.played", { p: stats()!.played, w: stats()!.won, s: stats()!.best_streak })}</p>
          <ul class="kind-stats">
            <For each={stats()!.kinds}>{(k) => <li>{t(`game.${k.kind as GameKind}`)}: {Math.round(k.rating)} · {k.won}/{k.played}</li>}</For>
          </ul>
          <h4>{t("game.achievements")}</h4>
          <ul class="achievements">
            <For each={stats()!.achievements} fallback={<li class="muted">—</li>}>{(a) => <li data-achievement={a.id}>🏆 {a.id.replace(/_/g, " ")}</li>}</For>
          </ul>
        </Show>
      </section>
      <section aria-labelledby="sec-leaderboard" class="stack">
        <h3 id="sec-leaderboard">{t("game.leaderboard")}</h3>
        <select aria-label={t("game.kind")} value={kind()} onChange={(e) => setKind(e.currentTarget.value as GameKind)}>
          <For each={["tictactoe", "connect4", "hangman", "quiz"] as GameKind[]}>{(k) => <option value={k}>{t(`game.${k}`)}</option>}</For>
        </select>
        <ol class="leaderboard">
          <For each={board()?.entries ?? []} fallback={<li class="muted">{t("game.none")}</li>}>
            {(e) => <li value={e.rank}>{e.username} — {Math.round(e.rating)} ({e.played})</li>}
          </For>
        </ol>
      </section>
    </>
  );
}

/** Profile, appearance, language, notifications and security (2FA, sessions, alerts). */
export function SettingsPanel(props: { onClose: () => void }) {
  const [tab, setTab] = createSignal<"general" | "security" | "games">("general");
  return (
    <Modal title={t("settings.title")} onClose={props.onClose} wide>
      <section class="stack" aria-labelledby="sec-profile">
        <h3 id="sec-profile" class="sr-only">{t("settings.profile")}</h3>
        <div class="row">
          <p class="grow">{t("settings.signedInAs", { u: state.me?.username ?? "" })}</p>
          <Show when={installPrompt()}><button onClick={() => void promptInstall()}>{t("settings.install")}</button></Show>
          <button class="danger" onClick={() => { props.onClose(); void signOut(); }}>{t("settings.logout")}</button>
        </div>
      </section>
      <div class="tabs" role="tablist">
        <button role="tab" aria-selected={tab() === "general"} onClick={() => setTab("general")}>{t("settings.appearance")}</button>
        <button role="tab" aria-selected={tab() === "security"} onClick={() => setTab("security")}>{t("settings.security")}</button>
        <button role="tab" aria-selected={tab() === "games"} onClick={() => setTab("games")}>{t("game.games")}</button>
      </div>
      <Show when={tab() === "general"}>
        <Appearance />
        <Notifications />
      </Show>
      <Show when={tab() === "security"}><TwoFactor /><Sessions /></Show>
      <Show when={tab() === "games"}><GamesSection /></Show>
    </Modal>
  );
}
