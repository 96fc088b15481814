import { access, constants } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

import { RegdavError } from "../errors.js";
import { AuthFileCredentials } from "./auth-file.js";
import { CredentialHelpers, type CredentialHelperOptions } from "./credential-helper.js";
import { credentialsForRegistry, firstOf, type CredentialStore } from "./credentials.js";

/**
 * The search order of registry credentials:
 *
 * 1. REGDAV_USERNAME and REGDAV_PASSWORD, for the one registry given with --registry;
 * 2. the file given with --auth-file;
 * 3. $REGISTRY_AUTH_FILE;
 * 4. $XDG_RUNTIME_DIR/containers/auth.json, where `podman login` writes;
 * 5. $XDG_CONFIG_HOME/containers/auth.json, else ~/.config/containers/auth.json;
 * 6. $DOCKER_CONFIG/config.json, else ~/.docker/config.json, where `docker login` writes.
 *
 * Podman's files come before docker's, as podman reads them. A file without
 * an entry for the registry passes the lookup on to the next one.
 */
export interface CredentialSearchOptions {
  env: NodeJS.ProcessEnv;
  /** The file given with --auth-file. */
  authFile?: string;
  /** The registries given with --registry; REGDAV_USERNAME applies only when there is one. */
  registries: readonly string[];
  helpers?: CredentialHelperOptions;
}

/** Variables that credential helpers do not inherit, because they hold regdav's own secrets. */
const privateVariables = ["REGDAV_USERNAME", "REGDAV_PASSWORD", "REGDAV_DAV_PASSWORD"];

/** Returns the auth files to read, in order, without duplicates. */
export function authFileSearchPath(env: NodeJS.ProcessEnv, authFile?: string): string[] {
  const home = env.HOME || homedir();
  const configHome = env.XDG_CONFIG_HOME || join(home, ".config");
  const paths = [
    authFile,
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "containers", "auth.json") : undefined,
    join(configHome, "containers", "auth.json"),
    join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"),
  ];
  return [...new Set(paths.filter((path): path is string => Boolean(path)))];
}

/**
 * Builds the credential store of `regdav serve`. Throws BAD_REQUEST when
 * only one of REGDAV_USERNAME and REGDAV_PASSWORD is set, when they are set
 * without exactly one --registry, or when --auth-file cannot be read.
 */
export async function openCredentialStore(
  options: CredentialSearchOptions,
): Promise<CredentialStore> {
  if (options.authFile !== undefined) await checkReadable(options.authFile);

  const helpers = new CredentialHelpers({
    ...options.helpers,
    env: options.helpers?.env ?? helperEnvironment(options.env),
  });
  const files = authFileSearchPath(options.env, options.authFile).map(
    (path) => new AuthFileCredentials(path, helpers),
  );
  const explicit = explicitCredentials(options.env, options.registries);
  return firstOf(explicit ? [explicit, ...files] : files);
}

function explicitCredentials(
  env: NodeJS.ProcessEnv,
  registries: readonly string[],
): CredentialStore | undefined {
  const username = env.REGDAV_USERNAME;
  const password = env.REGDAV_PASSWORD;
  if (!username && !password) return undefined;
  if (!username || !password) {
    const missing = username ? "REGDAV_PASSWORD" : "REGDAV_USERNAME";
    throw new RegdavError(
      "BAD_REQUEST",
      `${missing} is not set: set both REGDAV_USERNAME and REGDAV_PASSWORD, or neither`,
    );
  }
  if (registries.length !== 1) {
    throw new RegdavError(
      "BAD_REQUEST",
      `REGDAV_USERNAME and REGDAV_PASSWORD apply to one --registry, but ${registries.length} ` +
        `were given (${registries.join(", ") || "none"}); ` +
        "for several registries, use docker login or --auth-file",
    );
  }
  const source = "REGDAV_USERNAME and REGDAV_PASSWORD";
  return credentialsForRegistry(registries[0]!, { username, password, source });
}

async function checkReadable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new RegdavError("BAD_REQUEST", `cannot read --auth-file ${path}: ${code}`);
  }
}

function helperEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of privateVariables) delete copy[name];
  return copy;
}
