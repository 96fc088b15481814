import { readFile } from "node:fs/promises";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { findConfigKey, helperServerUrl } from "./config-keys.js";
import type { CredentialHelpers } from "./credential-helper.js";
import type { CredentialStore, Credentials } from "./credentials.js";

/**
 * Credentials from one file in the format that docker's config.json and
 * podman's auth.json share. For a registry, the lookup runs the helper named
 * in `credHelpers`, then the one in `credsStore`, then reads the entry in
 * `auths`, and the first that has credentials wins. An `auths` entry holds
 * `auth` (base64 of user:password), `username` and `password`, or
 * `identitytoken`. An empty entry `{}`, which docker writes when a helper
 * keeps the secret, gives nothing by itself. The file is read on every
 * lookup, so a new `docker login` takes effect without a restart, and a
 * missing file has no credentials.
 */
export class AuthFileCredentials implements CredentialStore {
  constructor(
    readonly path: string,
    private readonly helpers: CredentialHelpers,
  ) {}

  async get(registry: string, repository?: string): Promise<Credentials | undefined> {
    const config = await this.read();
    if (!config) return undefined;
    const authKey = findConfigKey(Object.keys(config.auths), registry, repository);
    const serverUrl = authKey ?? helperServerUrl(registry);

    const helperKey = findConfigKey(Object.keys(config.credHelpers), registry, repository);
    if (helperKey !== undefined) {
      const helper = config.credHelpers[helperKey]!;
      const configuredIn = `credHelpers in ${this.path}`;
      const found = await this.helpers.get({ helper, serverUrl, configuredIn });
      if (found) return found;
    }

    if (config.credsStore !== undefined) {
      const configuredIn = `credsStore in ${this.path}`;
      const found = await this.helpers.get({ helper: config.credsStore, serverUrl, configuredIn });
      if (found) return found;
    }

    if (authKey === undefined) return undefined;
    return credentialsOf(config.auths[authKey] ?? {}, authKey, this.path);
  }

  private async read(): Promise<AuthConfig | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw new RegdavError("INTERNAL", `cannot read auth file ${this.path}: ${String(error)}`);
    }
    return parseAuthConfig(text, this.path);
  }
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

interface AuthConfig {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

function parseAuthConfig(text: string, path: string): AuthConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RegdavError("INTERNAL", `invalid JSON in auth file ${path}: ${String(error)}`);
  }

  const fields = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  const config: AuthConfig = {
    auths: objectField(fields.auths) as Record<string, AuthEntry>,
    credHelpers: stringValues(objectField(fields.credHelpers)),
  };
  if (typeof fields.credsStore === "string" && fields.credsStore !== "") {
    config.credsStore = fields.credsStore;
  }
  return config;
}

function objectField(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function stringValues(record: Record<string, unknown>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === "string" && value !== "") result[key] = value;
  }
  return result;
}

function credentialsOf(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  const source = `auths entry ${JSON.stringify(key)} in ${path}`;
  if (typeof entry.identitytoken === "string" && entry.identitytoken !== "") {
    return { identityToken: entry.identitytoken, source };
  }
  if (typeof entry.auth === "string" && entry.auth !== "") {
    return decodeAuth(entry.auth, key, path, source);
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password, source };
  }
  return undefined;
}

/** Decodes base64 `user:password`, split at the first colon since passwords may contain colons. */
function decodeAuth(
  auth: string,
  key: string,
  path: string,
  source: string,
): Credentials | undefined {
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) {
    log.warn("ignoring auth file entry: its auth field is not base64 of user:password", {
      key,
      path,
    });
    return undefined;
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
}
