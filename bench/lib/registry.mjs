// Starts Debian's docker-registry (distribution 2.8) on a loopback port, with
// its storage kept under the bench work folder, so images pushed once stay
// for later runs.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { freePort, startServer } from "./process.mjs";

/**
 * Writes the registry configuration: filesystem storage, no access log, and
 * nothing that contacts another host (no notifications, proxy or reporting).
 */
function registryConfig(host, dataDir) {
  return [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: ${host}`,
    "",
  ].join("\n");
}

/** Copies the environment without REGISTRY_* variables, which override the configuration file. */
function registryEnvironment() {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("REGISTRY_")),
  );
}

/** Starts the registry with storage in `workDir/registry`, and resolves once `GET /v2/` returns 200. */
export async function startRegistry(workDir) {
  const dataDir = join(workDir, "registry");
  await mkdir(dataDir, { recursive: true });
  const host = `127.0.0.1:${await freePort()}`;
  const configPath = join(workDir, "registry.yml");
  await writeFile(configPath, registryConfig(host, dataDir));

  const server = await startServer({
    name: "docker-registry",
    command: "/usr/bin/docker-registry",
    args: ["serve", configPath],
    env: registryEnvironment(),
    isReady: async () => (await fetch(`http://${host}/v2/`)).status === 200,
  });
  return { host, url: `http://${host}`, stop: server.stop };
}

/** Returns whether the registry has a manifest for `repository:tag`. */
export async function hasManifest(registryUrl, repository, tag) {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  return response.status === 200;
}
