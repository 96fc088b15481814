import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";

import {
  makeBlob,
  makeImageConfig,
  makeLayer,
  makeOciManifest,
  type ImageBlob,
  type LayerBlob,
  type TarEntry,
} from "../harness/image-builder.js";
import {
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  pushSchema1Image,
  type PushedImage,
  type PushedIndex,
  type PushedSchema1Image,
} from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, repoRoot, type TempDir } from "../harness/tools.js";

/*
 * A registry with one image of each kind the tree commands must handle, and
 * a runner for the real bin/regdav as a child process.
 */

export const regdavBin = join(repoRoot, "bin", "regdav");

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `node bin/regdav ...args` to completion, stdin closed, stdout and stderr as pipes. */
export function runRegdav(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [regdavBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") });
    });
  });
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Pseudo-random bytes that gzip cannot shrink, the same on every run. */
export function incompressibleBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = 0x12345678;
  for (let position = 0; position < length; position++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[position] = state & 0xff;
  }
  return bytes;
}

const older = new Date("2023-03-04T05:06:07Z");
const newer = new Date("2024-06-07T08:09:10Z");

/** The base layer of team/app: files, a hardlink, symlinks of each kind, and entries the top layer removes. */
export const baseEntries: TarEntry[] = [
  { type: "directory", path: "etc", mtime: older },
  { type: "file", path: "etc/os-release", content: "ID=base\n", mtime: older },
  { type: "file", path: "etc/hostname", content: "app\n", mtime: older },
  { type: "file", path: "etc/passwd", content: "root:x:0:0:root:/root:/bin/sh\n", mtime: older },
  { type: "hardlink", path: "etc/passwd-hard", target: "etc/passwd", mtime: older },
  { type: "symlink", path: "etc/issue", target: "os-release" },
  { type: "symlink", path: "etc/host-abs", target: "/etc/hostname" },
  { type: "symlink", path: "etc/dangling", target: "/nowhere" },
  { type: "directory", path: "etc/ssl", mtime: older },
  { type: "directory", path: "etc/ssl/certs", mtime: older },
  { type: "file", path: "etc/ssl/certs/ca.pem", content: "-----BEGIN CERTIFICATE-----\n", mtime: older },
  { type: "symlink", path: "etc/ssl/links", target: "certs" },
  { type: "file", path: "etc/removed", content: "gone in the top layer\n" },
  { type: "directory", path: "etc/opaque" },
  { type: "file", path: "etc/opaque/old", content: "hidden by the opaque marker\n" },
  { type: "file", path: "etc/space name.conf", content: "a = 1\n", mtime: older },
  { type: "directory", path: "usr" },
  { type: "directory", path: "usr/bin" },
  { type: "file", path: "usr/bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
];

/** The top layer of team/app: a changed file, a whiteout, an opaque folder and a large file. */
export const topEntries = (big: Buffer): TarEntry[] => [
  { type: "directory", path: "etc", mtime: newer },
  { type: "file", path: "etc/os-release", content: "ID=app\nVERSION=1\n", mtime: newer },
  { type: "file", path: "etc/.wh.removed", content: "" },
  { type: "directory", path: "etc/opaque", mtime: newer },
  { type: "file", path: "etc/opaque/.wh..wh..opq", content: "" },
  { type: "file", path: "etc/opaque/new", content: "added above the marker\n", mtime: newer },
  { type: "directory", path: "data" },
  { type: "file", path: "data/big.bin", content: big, mtime: newer },
];

export interface CliFixture {
  registry: TestRegistry;
  host: string;
  /** A fresh cache folder that the tests' regdav runs share. */
  cache: TempDir;
  app: PushedImage & { layers: LayerBlob[]; config: ImageBlob; big: Buffer };
  docker: PushedImage;
  legacy: PushedSchema1Image;
  multi: PushedIndex;
  artifact: { manifest: ImageBlob; config: ImageBlob; layer: ImageBlob };
  /** The options every run passes: the cache folder, and the registry shown at the root. */
  treeArgs: string[];
  stop(): Promise<void>;
}

/**
 * Starts a registry (schema1 enabled) and pushes team/app:v1 and :latest
 * (OCI, gzip and zstd layers), team/docker:v1 (Docker schema 2),
 * legacy/app:old (schema 1), team/multi:v1 (an index for linux/amd64 and
 * linux/arm64) and team/artifact:v1 (an OCI artifact).
 */
export async function startCliFixture(options: { bigBytes?: number } = {}): Promise<CliFixture> {
  const registry = await startRegistry({ schema1: true });
  const cache = await makeTempDir("cli-cache");
  try {
    const host = registry.host;
    const big = incompressibleBytes(options.bigBytes ?? 4 * 1024 * 1024);
    const layers = [
      await makeLayer(baseEntries),
      await makeLayer(topEntries(big), { compression: "zstd" }),
    ];
    const config = makeImageConfig({ layers });
    const image = { layers, config, format: "oci" as const };
    const app = await pushImage(host, "team/app", "v1", image);
    await pushImage(host, "team/app", "latest", image);

    const dockerLayer = await makeLayer(
      [
        { type: "directory", path: "etc" },
        { type: "file", path: "etc/os-release", content: "ID=docker\n" },
      ],
      { format: "docker" },
    );
    const dockerImage = { layers: [dockerLayer], config: makeImageConfig({ layers: [dockerLayer], format: "docker" }) };
    const docker = await pushImage(host, "team/docker", "v1", { ...dockerImage, format: "docker" });

    const legacyLayer = await makeLayer(
      [
        { type: "directory", path: "etc" },
        { type: "file", path: "etc/os-release", content: "ID=schema1\n" },
      ],
      { format: "docker" },
    );
    const legacy = await pushSchema1Image(host, "legacy/app", "old", [legacyLayer]);

    const multi = await pushIndex(host, "team/multi", "v1", {
      format: "oci",
      images: [
        await platformImage({ os: "linux", architecture: "amd64" }, "amd64"),
        await platformImage({ os: "linux", architecture: "arm64", variant: "v8" }, "arm64"),
      ],
    });

    const artifact = await pushArtifact(host);
    return {
      registry,
      host,
      cache,
      app: { ...app, layers, config, big },
      docker,
      legacy,
      multi,
      artifact,
      treeArgs: ["--cache-dir", cache.path, "--registry", host],
      stop: async () => {
        await registry.stop();
        await cache.remove();
      },
    };
  } catch (error) {
    await registry.stop();
    await cache.remove();
    throw error;
  }
}

async function platformImage(platform: { os: string; architecture: string; variant?: string }, arch: string) {
  const layer = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/arch", content: `${arch}\n` },
  ]);
  return { platform, layers: [layer], config: makeImageConfig({ layers: [layer], platform }) };
}

async function pushArtifact(host: string) {
  const config = makeBlob("application/vnd.oci.empty.v1+json", Buffer.from("{}"));
  const layer = makeBlob("application/spdx+json", Buffer.from('{"spdxVersion":"SPDX-2.3"}\n'));
  for (const blob of [config, layer]) await pushBlob(host, "team/artifact", blob.bytes);
  const manifest = makeOciManifest({ artifactType: "application/spdx+json", config, layers: [layer] });
  await pushManifest(host, "team/artifact", "v1", manifest.bytes, manifest.mediaType);
  return { manifest, config, layer };
}

/** Returns the hex of a digest. */
export function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}
