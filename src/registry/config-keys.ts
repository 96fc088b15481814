import { dockerHubRegistry } from "../reference/reference.js";

/**
 * Keys of the `auths` and `credHelpers` sections of docker's config.json and
 * podman's auth.json. A key is a registry host, written bare (`ghcr.io`),
 * with a scheme or the legacy `/v1/` path (`https://index.docker.io/v1/`),
 * or with a repository path (`quay.io/team/app`, podman's namespaced keys)
 * that limits it to that repository and the ones below it.
 */
export interface ConfigKey {
  /** Lowercase host with port; every name of Docker Hub becomes `docker.io`. */
  host: string;
  /** Repository path the key is limited to; empty for the whole registry. */
  path: string;
}

/** The key `docker login` writes for Docker Hub. */
export const dockerHubConfigKey = "https://index.docker.io/v1/";
const dockerHubHosts = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** Parses a config key; a path of only `v1` or `v2` is the legacy API path, not a repository. */
export function parseConfigKey(key: string): ConfigKey {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = withoutScheme.indexOf("/");
  const rawHost = slash === -1 ? withoutScheme : withoutScheme.slice(0, slash);
  const rawPath = slash === -1 ? "" : withoutScheme.slice(slash + 1).replace(/\/+$/, "");

  const host = rawHost.toLowerCase();
  const path = /^v[12]$/.test(rawPath) ? "" : rawPath;
  return { host: dockerHubHosts.has(host) ? dockerHubRegistry : host, path };
}

/** Reduces a config key or registry name to its host, as parseConfigKey does. */
export function configHostOf(key: string): string {
  return parseConfigKey(key).host;
}

/**
 * Finds the key that applies to `repository` of `registry`. The key with the
 * longest matching path wins, as podman matches namespaced keys. Among keys
 * of equal length, the one written exactly as the registry name wins, then
 * Docker Hub's v1 key, then the first in the file. Without a repository (the
 * catalog) only keys for the whole registry apply.
 */
export function findConfigKey(
  keys: readonly string[],
  registry: string,
  repository?: string,
): string | undefined {
  const host = configHostOf(registry);
  let best: { key: string; length: number; rank: number } | undefined;
  for (const key of keys) {
    const parsed = parseConfigKey(key);
    if (parsed.host !== host || !pathApplies(parsed.path, repository)) continue;

    const candidate = { key, length: parsed.path.length, rank: tieRank(key, registry) };
    if (!best || isBetter(candidate, best)) best = candidate;
  }
  return best?.key;
}

/** Returns the server URL docker passes to a credential helper for a registry. */
export function helperServerUrl(registry: string): string {
  return configHostOf(registry) === dockerHubRegistry ? dockerHubConfigKey : registry;
}

function pathApplies(path: string, repository: string | undefined): boolean {
  if (path === "") return true;
  if (repository === undefined) return false;
  return repository === path || repository.startsWith(`${path}/`);
}

function tieRank(key: string, registry: string): number {
  if (key === registry) return 0;
  return key === dockerHubConfigKey ? 1 : 2;
}

function isBetter(
  candidate: { length: number; rank: number },
  best: { length: number; rank: number },
): boolean {
  if (candidate.length !== best.length) return candidate.length > best.length;
  return candidate.rank < best.rank;
}
