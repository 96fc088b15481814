import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";

import { computeDigest } from "../../src/reference/digest.js";

/**
 * Runs Debian's distribution registry (docker-registry 2.8) on a free
 * loopback port with filesystem storage in a temporary folder, and pushes
 * content to it through its HTTP API.
 */
export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://...`. */
  origin: string;
  /** Everything the registry printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface TestRegistryOptions {
  /** PEM files; with them the registry serves HTTPS only. */
  tls?: { certificateFile: string; keyFile: string };
}

const registryBinary = "/usr/bin/docker-registry";
const startTimeoutMs = 15_000;
const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const directory = await mkdtemp(join(tmpdir(), "regdav-registry-"));
  const port = await freePort();
  const configFile = join(directory, "config.yml");
  await writeFile(configFile, registryConfig(join(directory, "data"), port, options));

  const child = spawn(registryBinary, ["serve", configFile], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", REGISTRY_HTTP_SECRET: "regdav-test" },
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));

  const host = `127.0.0.1:${port}`;
  try {
    await waitForPort(port, child, () => output);
  } catch (error) {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  return {
    host,
    origin: `${options.tls ? "https" : "http"}://${host}`,
    output: () => output,
    stop: async () => {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function registryConfig(dataDirectory: string, port: number, options: TestRegistryOptions): string {
  const tls = options.tls
    ? `  tls:\n    certificate: ${options.tls.certificateFile}\n    key: ${options.tls.keyFile}\n`
    : "";
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${dataDirectory}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    tls.trimEnd(),
    "compatibility:",
    "  schema1:",
    "    enabled: true",
    "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}

/** Binds port 0 and releases it; the registry binds it a moment later. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port assigned");
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode}: ${output()}`);
    }
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `docker-registry did not listen on port ${port} within ${startTimeoutMs} ms: ${output()}`,
  );
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Uploads a blob in one monolithic PUT and returns its descriptor fields. */
export async function pushBlob(registry: TestRegistry, repository: string, bytes: Buffer) {
  const digest = computeDigest(bytes);
  const start = await send(registry, "POST", `/v2/${repository}/blobs/uploads/`);
  if (start.statusCode !== 202)
    throw new Error(`upload start returned ${start.statusCode}: ${await start.body.text()}`);
  await start.body.dump();

  const location = new URL(String(start.headers.location), registry.origin);
  location.searchParams.set("digest", digest);
  const put = await send(registry, "PUT", location.href, bytes, "application/octet-stream");
  if (put.statusCode !== 201)
    throw new Error(`blob upload returned ${put.statusCode}: ${await put.body.text()}`);
  await put.body.dump();
  return { digest, size: bytes.length };
}

/** Pushes a manifest and returns the registry's Docker-Content-Digest for it. */
export async function pushManifest(
  registry: TestRegistry,
  repository: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
): Promise<string> {
  const response = await send(
    registry,
    "PUT",
    `/v2/${repository}/manifests/${reference}`,
    bytes,
    mediaType,
  );
  const text = await response.body.text();
  if (response.statusCode !== 201)
    throw new Error(`manifest push returned ${response.statusCode}: ${text}`);
  return String(response.headers["docker-content-digest"]);
}

function send(
  registry: TestRegistry,
  method: "POST" | "PUT",
  target: string,
  body?: Buffer,
  type?: string,
) {
  const headers: Record<string, string> = {};
  if (type) headers["content-type"] = type;
  return request(new URL(target, registry.origin), {
    method,
    body,
    headers,
    dispatcher: insecureAgent,
  });
}
