import { ApiError } from "../core/errors";
import { t } from "./i18n";

/** A clear, localized sentence for any failure (every protocol error code, and Retry-After). */
export function errorText(e: unknown, context: "login" | "2fa" | "register" | "other" = "other"): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : t("err.generic", { msg: String(e) });
  switch (e.code) {
    case "unauthorized":
      if (context === "2fa") return /ticket/.test(e.message) ? t("err.ticket") : t("err.unauthorized.2fa");
      return context === "login" ? t("err.unauthorized") : t("err.generic", { msg: e.message });
    case "rate_limited": {
      const n = e.retryAfter ?? 1;
      return /blocked/.test(e.message) ? t("err.rate_limited.blocked", { n: Math.ceil(n / 60) }) : t("err.rate_limited", { n });
    }
    case "conflict":
      return context === "register" ? t("err.conflict") : t("err.generic", { msg: e.message });
    case "bad_request":
      return t("err.bad_request", { msg: e.message });
    case "network":
      return t("err.network");
    default:
      return t(`err.${e.code}` as Parameters<typeof t>[0]);
  }
}
