import type { IncomingHttpHeaders } from "undici/types/header.js";

import { log } from "../log.js";
import { headerValue } from "./http.js";

/**
 * Logs the rate-limit headers that Docker Hub sends on manifest responses,
 * such as `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining: 76;w=21600`
 * (a count per window of seconds). They are logged at info on the first
 * response that has them, then at most once a minute per registry, and on
 * every 429, so that a busy share does not fill the log.
 */
export class RateLimitLog {
  private lastLogged = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly registry: string,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = 60_000,
  ) {}

  observe(status: number, headers: IncomingHttpHeaders): void {
    const limit = headerValue(headers, "ratelimit-limit");
    const remaining = headerValue(headers, "ratelimit-remaining");
    if (limit === undefined && remaining === undefined) return;

    const now = this.now();
    if (status !== 429 && now - this.lastLogged < this.intervalMs) return;
    this.lastLogged = now;
    log.info("registry rate limit", { registry: this.registry, status, limit, remaining });
  }
}
