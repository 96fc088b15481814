import type { IncomingHttpHeaders } from "undici/types/header.js";

import { headerValue } from "./http.js";

/**
 * When to send a registry or token request again: after 429 Too Many
 * Requests and after 5xx server errors, except 501 and 505, which do not
 * change on retry. The wait is the response's Retry-After (seconds or an
 * HTTP-date) when it sends one, else an exponential backoff with jitter.
 * Retries are bounded in count and in total time, and a Retry-After that
 * would pass the time bound ends the retries at once.
 */
export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  maxRetries: number;
  /** Maximum time from the first attempt to the start of the last retry (default 30 s). */
  maxTotalMs: number;
  /** The first backoff in milliseconds, doubled for every further retry (default 500). */
  baseDelayMs: number;
  /** Maximum backoff of one retry without Retry-After (default 8 s). */
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Returns a number in [0, 1) for the jitter; replaceable in tests. */
  random: () => number;
  now: () => number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 4,
  maxTotalMs: 30_000,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
  now: Date.now,
};

const notRetried = new Set([501, 505]);

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && !notRetried.has(status));
}

/** Reads Retry-After in milliseconds: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3). */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;

  // An HTTP-date names its day and GMT; Date.parse would also accept numbers such as 1.5.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The retry state of one request. */
export class RetrySchedule {
  private readonly policy: RetryPolicy;
  private readonly started: number;
  private retries = 0;

  constructor(policy: Partial<RetryPolicy> = {}) {
    this.policy = { ...defaultRetryPolicy, ...policy };
    this.started = this.policy.now();
  }

  /** Attempts made so far. */
  get attempts(): number {
    return this.retries + 1;
  }

  /** Returns the wait before the next attempt, or undefined when this response is final. */
  nextDelay(status: number, headers: IncomingHttpHeaders): number | undefined {
    const { policy } = this;
    if (!isRetryableStatus(status) || this.retries >= policy.maxRetries) return undefined;

    const now = policy.now();
    const delay = retryAfterMs(headerValue(headers, "retry-after"), now) ?? this.backoff();
    if (now + delay - this.started > policy.maxTotalMs) return undefined;
    this.retries++;
    return delay;
  }

  wait(ms: number): Promise<void> {
    return this.policy.sleep(ms);
  }

  /** Describes the attempts for the final error, such as ` (after 5 attempts)`. */
  summary(): string {
    return this.retries === 0 ? "" : ` (after ${this.attempts} attempts)`;
  }

  /** Half the exponential delay is fixed and half is random, so clients do not retry in step. */
  private backoff(): number {
    const { baseDelayMs, maxDelayMs, random } = this.policy;
    const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** this.retries);
    return Math.round(exponential / 2 + (random() * exponential) / 2);
  }
}
