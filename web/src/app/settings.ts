/** User preferences: stored on the server (`/api/me/settings`) so they follow the user; localStorage as cache and fallback. */

export type ThemeMode = "system" | "light" | "dark";
export type Density = "comfortable" | "compact";
export type LangPref = "auto" | "en" | "ru";

export interface Scheme {
  accent: string;
  /** Optional overrides; empty means the theme's own. */
  background: string;
  bubbleOwn: string;
}

export interface Settings {
  theme: ThemeMode;
  scheme: Scheme;
  fontSize: number;
  density: Density;
  lang: LangPref;
  notifications: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  theme: "system",
  scheme: { accent: "", background: "", bubbleOwn: "" },
  fontSize: 15,
  density: "comfortable",
  lang: "auto",
  notifications: true,
};

export const PRESET_SCHEMES: Record<string, Scheme> = {
  default: { accent: "", background: "", bubbleOwn: "" },
  forest: { accent: "#2f855a", background: "", bubbleOwn: "#c6f6d5" },
  sunset: { accent: "#c05621", background: "", bubbleOwn: "#feebc8" },
  grape: { accent: "#6b46c1", background: "", bubbleOwn: "#e9d8fd" },
};

const COLOR = /^#[0-9a-fA-F]{6}$/;

/** Accepts any stored object and returns valid settings (unknown or invalid values fall back to defaults). */
export function normalize(raw: unknown): Settings {
  const o = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const s = (o.scheme && typeof o.scheme === "object" ? o.scheme : {}) as Record<string, unknown>;
  const color = (v: unknown) => (typeof v === "string" && COLOR.test(v) ? v : "");
  const pick = <T extends string>(v: unknown, allowed: readonly T[], d: T): T => (allowed.includes(v as T) ? (v as T) : d);
  const fs = Number(o.fontSize);
  return {
    theme: pick(o.theme, ["system", "light", "dark"], DEFAULT_SETTINGS.theme),
    scheme: { accent: color(s.accent), background: color(s.background), bubbleOwn: color(s.bubbleOwn) },
    fontSize: Number.isFinite(fs) ? Math.min(22, Math.max(12, Math.round(fs))) : DEFAULT_SETTINGS.fontSize,
    density: pick(o.density, ["comfortable", "compact"], DEFAULT_SETTINGS.density),
    lang: pick(o.lang, ["auto", "en", "ru"], DEFAULT_SETTINGS.lang),
    notifications: typeof o.notifications === "boolean" ? o.notifications : DEFAULT_SETTINGS.notifications,
  };
}

/** Applies the appearance settings to the document (CSS custom properties set through the CSSOM, allowed by the CSP). */
export function applyAppearance(s: Settings, prefersDark: boolean): void {
  const root = document.documentElement;
  const dark = s.theme === "dark" || (s.theme === "system" && prefersDark);
  root.dataset.theme = dark ? "dark" : "light";
  root.dataset.density = s.density;
  root.style.setProperty("--font-size", `${s.fontSize}px`);
  const set = (name: string, v: string) => (v ? root.style.setProperty(name, v) : root.style.removeProperty(name));
  set("--accent", s.scheme.accent);
  set("--bg-custom", s.scheme.background);
  set("--bubble-own-custom", s.scheme.bubbleOwn);
  const meta = document.querySelector('meta[name="theme-color"]');
  meta?.setAttribute("content", dark ? "#1a202c" : s.scheme.accent || "#2b6cb0");
}
