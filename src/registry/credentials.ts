import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { dockerHubRegistry } from "../reference/reference.js";

/** A user name and password, or an identity token for the OAuth2 refresh-token flow. */
export type Credentials = { username: string; password: string } | { identityToken: string };

/** Looks up the credentials for one registry, and possibly one repository in it. */
export interface CredentialStore {
  /** Returns undefined when no credentials are stored for the registry. */
  get(registry: string, repository?: string): Promise<Credentials | undefined>;
}

/** A store that never returns credentials, for anonymous access. */
export const anonymousCredentials: CredentialStore = {
  get: async () => undefined,
};

/** The key Docker Hub logins are stored under in docker's config.json. */
export const dockerHubConfigKey = "https://index.docker.io/v1/";
const dockerHubHosts = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

/**
 * Reads the `auths` section of docker's config.json: `$DOCKER_CONFIG/config.json`,
 * else `~/.docker/config.json`. The file is read on every lookup, so a new
 * `docker login` takes effect without a restart. A missing file means no
 * credentials. Keys may be bare hosts or URLs such as `https://host/v1/`.
 *
 * NOTE: credential helpers (`credsStore`, `credHelpers`) are not run yet, so
 * logins that docker keeps in a helper are not found.
 */
export class DockerConfigCredentials implements CredentialStore {
  readonly path: string;

  constructor(options: { path?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.path = options.path ?? defaultConfigPath(options.env ?? process.env);
  }

  async get(registry: string): Promise<Credentials | undefined> {
    const auths = await this.readAuths();
    if (!auths) return undefined;

    const match = findAuthEntry(auths, registry);
    if (!match) return undefined;
    return credentialsOf(match.entry, match.key, this.path);
  }

  private async readAuths(): Promise<Record<string, AuthEntry> | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new RegdavError("INTERNAL", `cannot read docker config ${this.path}: ${String(error)}`);
    }
    return parseAuths(text, this.path);
  }
}

function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const directory = env.DOCKER_CONFIG || join(homedir(), ".docker");
  return join(directory, "config.json");
}

function parseAuths(text: string, path: string): Record<string, AuthEntry> | undefined {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new RegdavError("INTERNAL", `invalid JSON in docker config ${path}: ${String(error)}`);
  }

  const auths = (config as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null) return undefined;
  return auths as Record<string, AuthEntry>;
}

/**
 * Finds the entry for `registry`: the key equal to its name, then for Docker
 * Hub the key docker login writes, then the first key whose host matches.
 */
function findAuthEntry(auths: Record<string, AuthEntry>, registry: string) {
  const host = configHostOf(registry);
  const keys = Object.keys(auths);
  const preferred = host === dockerHubRegistry ? [registry, dockerHubConfigKey] : [registry];
  const key =
    preferred.find((candidate) => Object.hasOwn(auths, candidate)) ??
    keys.find((candidate) => configHostOf(candidate) === host);
  return key === undefined ? undefined : { key, entry: auths[key] ?? {} };
}

/**
 * Reduces a config key or registry name to a host: the scheme and any path
 * such as `/v1/` are dropped, and every name of Docker Hub becomes `docker.io`.
 */
export function configHostOf(key: string): string {
  const host = key
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .split("/")[0]!
    .toLowerCase();
  return dockerHubHosts.has(host) ? dockerHubRegistry : host;
}

function credentialsOf(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  if (typeof entry.identitytoken === "string" && entry.identitytoken !== "") {
    return { identityToken: entry.identitytoken };
  }
  if (typeof entry.auth === "string" && entry.auth !== "") return decodeAuth(entry.auth, key, path);

  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Decodes base64 `user:password`, split at the first colon since passwords may contain colons. */
function decodeAuth(auth: string, key: string, path: string): Credentials | undefined {
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) {
    log.warn("ignoring docker config entry: its auth field is not base64 of user:password", {
      key,
      path,
    });
    return undefined;
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
