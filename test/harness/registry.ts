import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { startService, type Service } from "./service.js";
import { makeTempDir, requireTool, retryOnPortInUse, runCommand } from "./tools.js";

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Accept pushes of Docker schema1 manifests (off by default in distribution 2.8). */
  schema1?: boolean;
  /** Require HTTP basic auth with this one user, checked against an htpasswd file. */
  htpasswd?: Credentials;
  /** Require bearer tokens from a token server (distribution's `auth: token`). */
  token?: TokenAuthSettings;
  /** Run as a pull-through cache of the registry at this URL (distribution's `proxy`). */
  proxyRemoteUrl?: string;
}

/** The `auth.token` settings of distribution 2.8. */
export interface TokenAuthSettings {
  /** The token server's URL, sent as the challenge's realm. */
  realm: string;
  /** The `service` of the challenge, and the audience the tokens must name. */
  service: string;
  /** The `iss` the tokens must carry. */
  issuer: string;
  /** PEM certificates that the tokens' signing keys or certificate chains must lead to. */
  rootCertBundle: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the form image references and skopeo use. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The storage driver's root folder. */
  readonly dataDir: string;
  /** The user the registry requires, when started with `htpasswd`. */
  readonly credentials: Credentials | undefined;
  /** The registry's log output so far. */
  output(): string;
  /** Stops the registry and deletes its storage and configuration. */
  stop(): Promise<void>;
}

const registryBinary = "/usr/bin/docker-registry";

/**
 * Starts a distribution registry (Debian's docker-registry 2.8) on a free
 * loopback port, with filesystem storage in a fresh temp folder and deletes
 * enabled. Resolves once `GET /v2/` gets a response (200, or 401 with
 * htpasswd).
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  await requireTool("docker-registry");
  const workDir = await makeTempDir("registry");
  const dataDir = join(workDir.path, "data");

  try {
    // The registry creates its root folder on the first push; tests may look at it before.
    await mkdir(dataDir);
    let htpasswdPath: string | undefined;
    if (options.htpasswd) {
      htpasswdPath = join(workDir.path, "htpasswd");
      await writeHtpasswd(htpasswdPath, options.htpasswd);
    }

    const service = await retryOnPortInUse(async (port) => {
      const host = `127.0.0.1:${port}`;
      const configPath = join(workDir.path, "config.yml");
      await writeFile(configPath, registryConfig({ host, dataDir, htpasswdPath, ...options }));
      const started = await startService({
        name: "docker-registry",
        command: registryBinary,
        args: ["serve", configPath],
        env: registryEnvironment(),
        isReady: () => answersV2(host),
      });
      return { host, service: started };
    });

    return makeHandle(service.host, dataDir, options.htpasswd, service.service, workDir.remove);
  } catch (error) {
    await workDir.remove();
    throw error;
  }
}

function makeHandle(
  host: string,
  dataDir: string,
  credentials: Credentials | undefined,
  service: Service,
  removeWorkDir: () => Promise<void>,
): TestRegistry {
  return {
    host,
    url: `http://${host}`,
    dataDir,
    credentials,
    output: () => service.output(),
    stop: async () => {
      await service.stop();
      await removeWorkDir();
    },
  };
}

/** Writes an htpasswd file with a bcrypt hash, the only format the registry accepts. */
async function writeHtpasswd(path: string, credentials: Credentials): Promise<void> {
  const htpasswd = await requireTool("htpasswd");
  // -i reads the password from stdin, so it does not appear in the process list.
  const { stdout } = await runCommand(htpasswd, ["-n", "-i", "-B", credentials.username], {
    input: credentials.password,
  });
  await writeFile(path, stdout);
}

interface ConfigInput extends RegistryOptions {
  host: string;
  dataDir: string;
  htpasswdPath: string | undefined;
}

/**
 * Builds the registry's YAML configuration. Keys are those of distribution
 * 2.8's configuration reference. No notifications, debug server or
 * reporting are configured, and a proxy only with `proxyRemoteUrl` (tests
 * pass a loopback URL), so the registry contacts no other host.
 */
function registryConfig(input: ConfigInput): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(input.dataDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: ${input.host}`,
  ];
  if (input.htpasswdPath !== undefined) {
    lines.push(
      "auth:",
      "  htpasswd:",
      "    realm: regdav-test",
      `    path: ${JSON.stringify(input.htpasswdPath)}`,
    );
  }
  if (input.token !== undefined) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${JSON.stringify(input.token.realm)}`,
      `    service: ${JSON.stringify(input.token.service)}`,
      `    issuer: ${JSON.stringify(input.token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(input.token.rootCertBundle)}`,
    );
  }
  if (input.proxyRemoteUrl !== undefined) {
    lines.push("proxy:", `  remoteurl: ${JSON.stringify(input.proxyRemoteUrl)}`);
  }
  if (input.schema1) {
    lines.push("compatibility:", "  schema1:", "    enabled: true");
  }
  return lines.join("\n") + "\n";
}

/**
 * Returns this process's environment without REGISTRY_* variables, which the
 * registry reads as overrides of its configuration file.
 */
function registryEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("REGISTRY_")) env[key] = value;
  }
  return env;
}

async function answersV2(host: string): Promise<boolean> {
  const response = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === 200 || response.status === 401;
}
