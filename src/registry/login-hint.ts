import { dockerHubRegistry } from "../reference/reference.js";
import { describeCredentials, type Credentials } from "./credentials.js";

/**
 * Returns the advice appended to an authentication failure, so that the
 * person who reads it in a file manager's error can act on it. It names
 * where the rejected credentials came from and never contains them.
 */
export function loginHint(registry: string, credentials: Credentials | undefined): string {
  const login = loginCommand(registry);
  if (!credentials) {
    return (
      `no credentials for ${registry} were found: run "${login}", ` +
      "or set REGDAV_USERNAME and REGDAV_PASSWORD"
    );
  }
  const rejected = `${describeCredentials(credentials)} ${wasOrWere(credentials)} rejected`;
  return `${rejected}: run "${login}" again, or set REGDAV_USERNAME and REGDAV_PASSWORD`;
}

/** Returns the advice for a token that still lacks the request's scope after a fresh fetch. */
export function scopeHint(
  registry: string,
  scope: string,
  credentials: Credentials | undefined,
): string {
  const reason = `the registry answered insufficient_scope for ${scope}`;
  if (!credentials) return `${reason}; ${loginHint(registry, credentials)}`;
  return (
    `${reason}: check that the account of ${describeCredentials(credentials)} ` +
    `may read this repository, or log in as another one with "${loginCommand(registry)}"`
  );
}

function wasOrWere(credentials: Credentials): string {
  return "identityToken" in credentials ? "was" : "were";
}

function loginCommand(registry: string): string {
  return registry === dockerHubRegistry ? "docker login" : `docker login ${registry}`;
}
