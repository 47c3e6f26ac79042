import { createSignal, Show } from "solid-js";
import { ApiError } from "../core/errors";
import { solveInWorker } from "../core/captchaClient";
import type { CaptchaSolution } from "../protocol/types";
import { errorText } from "../app/errorText";
import { t } from "../app/i18n";
import { DEVICE_ID, completeLogin, rest } from "../app/store";

const USERNAME = /^[\p{L}\p{N}_.-]{3,32}$/u;

/** Sign in / sign up, with the proof-of-work CAPTCHA and the 2FA step when the server asks. */
export function Auth() {
  const [mode, setMode] = createSignal<"signin" | "signup">("signin");
  const [username, setUsername] = createSignal("");
  const [password, setPassword] = createSignal("");
  const [password2, setPassword2] = createSignal("");
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [captcha, setCaptcha] = createSignal<number | null>(null);
  const [ticket, setTicket] = createSignal<string | null>(null);
  const [code, setCode] = createSignal("");
  let retryUntil = 0;

  /** Runs `fn`; on `captcha_required`, solves a challenge in a worker and runs it once more with it. */
  async function withCaptcha<T>(fn: (c?: CaptchaSolution) => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "captcha_required")) throw e;
      // WebCrypto (and so the solver) exists only in secure contexts: HTTPS or localhost.
      if (!globalThis.crypto?.subtle) throw new Error(t("auth.captchaInsecure"));
      const ch = await rest.captcha();
      setCaptcha(0);
      try {
        const sol = await solveInWorker(ch, (p) => setCaptcha(Math.floor(p * 100)));
        return await fn(sol);
      } finally {
        setCaptcha(null);
      }
    }
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    setError("");
    if (Date.now() < retryUntil) {
      setError(t("err.rate_limited", { n: Math.ceil((retryUntil - Date.now()) / 1000) }));
      return;
    }
    const u = username().trim();
    if (mode() === "signup") {
      if (!USERNAME.test(u)) return setError(t("auth.badUsername"));
      if (password().length < 8) return setError(t("auth.shortPassword"));
      if (password() !== password2()) return setError(t("auth.mismatch"));
    }
    setBusy(true);
    try {
      if (mode() === "signup") await withCaptcha((c) => rest.register(u, password(), c));
      const res = await withCaptcha((c) => rest.login(u, password(), DEVICE_ID, c));
      if ("2fa_required" in res) {
        setTicket(res.ticket);
        setCode("");
      } else await completeLogin(res);
    } catch (e) {
      if (e instanceof ApiError && e.retryAfter) retryUntil = Date.now() + e.retryAfter * 1000;
      setError(errorText(e, mode() === "signup" ? "register" : "login"));
    } finally {
      setBusy(false);
    }
  }

  async function submit2fa(ev: Event) {
    ev.preventDefault();
    setError("");
    setBusy(true);
    try {
      await completeLogin(await rest.login2fa(ticket()!, code().trim(), DEVICE_ID));
    } catch (e) {
      if (e instanceof ApiError && e.code === "unauthorized" && /ticket/.test(e.message)) setTicket(null);
      setError(errorText(e, "2fa"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth" aria-labelledby="auth-title">
      <div class="auth-card">
        <div class="brand">
          <img src="/icons/icon.svg" alt="" width="48" height="48" />
          <h1 id="auth-title">{t("app.name")}</h1>
        </div>
        <p class="muted">{t("auth.tagline")}</p>
        <Show
          when={ticket() === null}
          fallback={
            <form onSubmit={submit2fa} aria-label={t("auth.2fa.title")}>
              <h2>{t("auth.2fa.title")}</h2>
              <p class="muted">{t("auth.2fa.hint")}</p>
              <label>
                {t("auth.2fa.code")}
                <input name="code" autocomplete="one-time-code" inputmode="text" required value={code()} onInput={(e) => setCode(e.currentTarget.value)} />
              </label>
              <Show when={error()}>
                <p class="error" role="alert">{error()}</p>
              </Show>
              <div class="row">
                <button type="button" class="ghost" onClick={() => { setTicket(null); setError(""); }}>{t("auth.2fa.back")}</button>
                <button type="submit" class="primary" disabled={busy()}>{t("auth.2fa.submit")}</button>
              </div>
            </form>
          }
        >
          <div class="tabs" role="tablist">
            <button role="tab" type="button" aria-selected={mode() === "signin"} onClick={() => { setMode("signin"); setError(""); }}>{t("auth.signin")}</button>
            <button role="tab" type="button" aria-selected={mode() === "signup"} onClick={() => { setMode("signup"); setError(""); }}>{t("auth.signup")}</button>
          </div>
          <form onSubmit={submit} aria-label={mode() === "signin" ? t("auth.signin") : t("auth.signup")}>
            <label>
              {t("auth.username")}
              <input name="username" autocomplete="username" required minLength={3} maxLength={32} value={username()} onInput={(e) => setUsername(e.currentTarget.value)} aria-describedby={mode() === "signup" ? "uhint" : undefined} />
            </label>
            <Show when={mode() === "signup"}>
              <small id="uhint" class="muted">{t("auth.usernameHint")}</small>
            </Show>
            <label>
              {t("auth.password")}
              <input name="password" type="password" autocomplete={mode() === "signin" ? "current-password" : "new-password"} required value={password()} onInput={(e) => setPassword(e.currentTarget.value)} />
            </label>
            <Show when={mode() === "signup"}>
              <small class="muted">{t("auth.passwordHint")}</small>
              <label>
                {t("auth.password2")}
                <input name="password2" type="password" autocomplete="new-password" required value={password2()} onInput={(e) => setPassword2(e.currentTarget.value)} />
              </label>
            </Show>
            <Show when={captcha() !== null}>
              <div class="captcha" role="status">
                <span>{t("auth.captcha", { pct: captcha() ?? 0 })}</span>
                <progress max="100" value={captcha() ?? 0} />
              </div>
            </Show>
            <Show when={error()}>
              <p class="error" role="alert">{error()}</p>
            </Show>
            <button type="submit" class="primary" disabled={busy()}>
              {mode() === "signin" ? t("auth.submit.signin") : t("auth.submit.signup")}
            </button>
          </form>
        </Show>
      </div>
    </main>
  );
}
