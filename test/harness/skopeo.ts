import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import type { Credentials } from "./registry.js";
import { requireTool, runCommand, withTempDir, type RunResult } from "./tools.js";

export interface SkopeoOptions {
  /** Milliseconds before skopeo is killed; default 300000. */
  timeoutMs?: number;
}

/**
 * Runs skopeo with its own empty configuration, so that the machine's
 * registries.conf (mirrors, search registries), signature storage settings,
 * trust policy and stored logins play no part. The policy accepts any image,
 * and credentials come only from `--src-creds` and `--dest-creds`.
 * `globalArgs` go before the subcommand, `args` after it.
 */
export async function runSkopeo(
  globalArgs: readonly string[],
  subcommand: string,
  args: readonly string[],
  options: SkopeoOptions = {},
): Promise<RunResult> {
  const skopeo = await requireTool("skopeo");
  return withTempDir("skopeo", async (configDir) => {
    const policyPath = join(configDir, "policy.json");
    const registriesConfPath = join(configDir, "registries.conf");
    const registriesDir = join(configDir, "registries.d");
    const authPath = join(configDir, "auth.json");
    await writeFile(policyPath, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
    await writeFile(registriesConfPath, "");
    await mkdir(registriesDir);
    await writeFile(authPath, JSON.stringify({ auths: {} }));

    // skopeo also reads logins from $HOME/.docker, $XDG_CONFIG_HOME and $DOCKER_CONFIG.
    const env = {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: registriesConfPath,
      REGISTRY_AUTH_FILE: authPath,
      HOME: configDir,
      XDG_CONFIG_HOME: join(configDir, "config"),
      DOCKER_CONFIG: join(configDir, "docker"),
      TMPDIR: configDir,
    };
    const fullArgs = [
      "--policy",
      policyPath,
      "--registries.d",
      registriesDir,
      ...globalArgs,
      subcommand,
      ...args,
    ];
    return runCommand(skopeo, fullArgs, { env, timeoutMs: options.timeoutMs ?? 300_000 });
  });
}

/** Formats credentials for skopeo's `--src-creds` and `--dest-creds`. */
export function credsArgument(credentials: Credentials): string {
  return `${credentials.username}:${credentials.password}`;
}
