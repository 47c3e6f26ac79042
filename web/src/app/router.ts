import { createSignal } from "solid-js";

/** A tiny History-API router: the server answers every client route with index.html. */
const [path, setPath] = createSignal(location.pathname);
export { path };

export function navigate(to: string, replace = false): void {
  if (to === location.pathname) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  setPath(to);
}

addEventListener("popstate", () => setPath(location.pathname));

export function match(pattern: RegExp): string[] | null {
  const m = pattern.exec(path());
  return m ? m.slice(1) : null;
}
