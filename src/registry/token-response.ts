import { RegdavError } from "../errors.js";
import { redactCredentials } from "./redact.js";

/**
 * The JSON a token server returns, by the distribution token spec: the token
 * in `token` (or `access_token`, its OAuth2 name), `expires_in` seconds of
 * validity and an RFC 3339 `issued_at`. An OAuth2 server may add a
 * `refresh_token`, which later requests send in place of the credentials.
 */
export interface IssuedToken {
  token: string;
  refreshToken?: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** When to fetch a new token instead, a little before expiry. */
  renewAt: number;
}

/** The spec's default lifetime, and the minimum a client should assume. */
export const minTokenLifetimeSeconds = 60;
const maxRenewMarginMs = 60_000;

/** Parses a token response. Throws REGISTRY_ERROR naming the server when it has no token. */
export function parseTokenResponse(body: Buffer, receivedAt: number, server: string): IssuedToken {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new RegdavError("REGISTRY_ERROR", `token server ${server} returned invalid JSON`);
  }

  const token = firstNonEmptyString(json?.token, json?.access_token);
  if (token === undefined) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `token server ${server} returned no token: expected a "token" or "access_token" field`,
    );
  }
  const issued: IssuedToken = {
    token,
    ...tokenLifetime(json.expires_in, json.issued_at, receivedAt),
  };
  const refreshToken = firstNonEmptyString(json.refresh_token);
  if (refreshToken !== undefined) issued.refreshToken = refreshToken;
  return issued;
}

/**
 * Computes expiry from `expires_in` (at least 60 s) counted from `issued_at`.
 * The server's clock may differ from ours. So `issued_at` counts only when it
 * lies between the time of receipt and one lifetime before it, and otherwise
 * the lifetime starts at receipt. Renewal is due a quarter of the lifetime
 * (at most a minute) before expiry.
 */
export function tokenLifetime(expiresIn: unknown, issuedAt: unknown, receivedAt: number) {
  const seconds =
    typeof expiresIn === "number" && Number.isFinite(expiresIn)
      ? Math.max(expiresIn, minTokenLifetimeSeconds)
      : minTokenLifetimeSeconds;
  const lifetimeMs = seconds * 1000;

  const issued = typeof issuedAt === "string" ? Date.parse(issuedAt) : Number.NaN;
  const plausible = issued <= receivedAt && issued >= receivedAt - lifetimeMs;
  const start = plausible ? issued : receivedAt;

  const expiresAt = start + lifetimeMs;
  return { expiresAt, renewAt: expiresAt - Math.min(maxRenewMarginMs, lifetimeMs / 4) };
}

/** Picks a readable reason from a token server's error body, whatever its shape. */
export function tokenErrorDetail(text: string): string {
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }

  const errors = Array.isArray(json?.errors) ? (json.errors as { message?: unknown }[]) : [];
  const messages = errors.map((error) => error?.message).filter((m) => typeof m === "string");
  const detail =
    messages.join("; ") ||
    firstNonEmptyString(json?.details, json?.error_description, json?.error, json?.message) ||
    text.replace(/\s+/g, " ").trim();
  const safe = redactCredentials(detail);
  return safe.length > 300 ? `${safe.slice(0, 300)}...` : safe;
}

function firstNonEmptyString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === "string" && value !== "");
}
