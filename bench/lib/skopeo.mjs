// Runs skopeo with a configuration of its own, so that the machine's
// registries.conf, trust policy and stored logins play no part.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { runCommand } from "./process.mjs";

/**
 * Writes an accept-anything policy, an empty registries.conf and an empty
 * auth file under `configDir`, and returns the global arguments and the
 * environment for skopeo to use them.
 */
export function skopeoSetup(configDir) {
  mkdirSync(join(configDir, "registries.d"), { recursive: true });
  const policy = join(configDir, "policy.json");
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  writeFileSync(join(configDir, "registries.conf"), "");
  writeFileSync(join(configDir, "auth.json"), JSON.stringify({ auths: {} }));

  // skopeo also reads logins from $HOME/.docker, $XDG_CONFIG_HOME and $DOCKER_CONFIG.
  const env = {
    ...process.env,
    CONTAINERS_REGISTRIES_CONF: join(configDir, "registries.conf"),
    REGISTRY_AUTH_FILE: join(configDir, "auth.json"),
    HOME: configDir,
    XDG_CONFIG_HOME: join(configDir, "config"),
    DOCKER_CONFIG: join(configDir, "docker"),
  };
  const globalArgs = ["--policy", policy, "--registries.d", join(configDir, "registries.d")];
  return { globalArgs, env };
}

/**
 * Copies `source` to `destination` (skopeo transport references) over plain
 * HTTP, with `extraArgs` added to the copy options.
 */
export function skopeoCopy(setup, source, destination, { tlsFlag = "--src-tls-verify=false", extraArgs = [] } = {}) {
  const args = [...setup.globalArgs, "copy", "--quiet", tlsFlag, ...extraArgs, source, destination];
  return runCommand("skopeo", args, { env: setup.env });
}
