import { createSignal } from "solid-js";

interface InstallEvent extends Event { prompt(): Promise<void> }

const [installPrompt, setInstallPrompt] = createSignal<InstallEvent | null>(null);
export { installPrompt };

addEventListener("beforeinstallprompt", (e) => {
  e.preventDefault();
  setInstallPrompt(e as InstallEvent);
});

export async function promptInstall(): Promise<void> {
  const p = installPrompt();
  setInstallPrompt(null);
  await p?.prompt();
}

/** Registers the service worker (production builds only: it caches the app shell for offline use). */
export function registerServiceWorker(): void {
  if (import.meta.env.DEV || !("serviceWorker" in navigator)) return;
  void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
}
