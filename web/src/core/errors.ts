import type { ErrorCode } from "../protocol/types";

/** A failed request: a protocol error (`code` from §2), or `network` when the server was not reached. */
export class ApiError extends Error {
  constructor(
    public readonly code: ErrorCode | "network",
    message: string,
    public readonly status = 0,
    /** Seconds until a retry may succeed (`Retry-After` / `retry_after`). */
    public readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Errors that will fail again if the same request is resent. */
export function isPermanent(e: unknown): boolean {
  return e instanceof ApiError && ["bad_request", "forbidden", "not_found", "too_large", "conflict"].includes(e.code);
}
