import { spawn } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";

import {
  makeImageConfig,
  makeLayer,
  sha256Digest,
  type Compression,
  type LayerBlob,
  type TarEntry,
} from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";

/** What a WebDAV client got: a status and a whole body, or a body cut off midway. */
export type Outcome =
  | { kind: "response"; status: number; headers: Headers; body: Buffer }
  | { kind: "aborted"; status: number; error: string };

/**
 * Sends a request and reads the whole body. A connection closed before the
 * end of the body is reported as `aborted`, with status 0 when no response
 * headers arrived.
 */
export async function fetchOutcome(url: string, init: RequestInit = {}): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    return { kind: "aborted", status: 0, error: `${String(error)} (${causeOf(error)})` };
  }
  try {
    const body = Buffer.from(await response.arrayBuffer());
    return { kind: "response", status: response.status, headers: response.headers, body };
  } catch (error) {
    return { kind: "aborted", status: response.status, error: String(error) };
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Describes an outcome for an assertion message. */
export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === "aborted") return `status ${outcome.status}, body aborted: ${outcome.error}`;
  const text = outcome.body.subarray(0, 300).toString();
  return `status ${outcome.status}, ${outcome.body.length} bytes: ${JSON.stringify(text)}`;
}

/** Returns the body of a response outcome, or undefined for an aborted one. */
export function bodyOf(outcome: Outcome): Buffer | undefined {
  return outcome.kind === "response" ? outcome.body : undefined;
}

/** Returns a response header of an outcome, or undefined when absent or aborted. */
export function headerOf(outcome: Outcome, name: string): string | undefined {
  return outcome.kind === "response" ? (outcome.headers.get(name) ?? undefined) : undefined;
}

/** Returns the body text of a response outcome, or "" for an aborted one. */
export function bodyText(outcome: Outcome): string {
  return outcome.kind === "response" ? outcome.body.toString() : "";
}

const layerFileExtensions: Record<Compression, string> = {
  gzip: ".tar.gz",
  zstd: ".tar.zst",
  none: ".tar",
};

/** An image of one layer pushed for a test, with what a test needs to check its reads. */
export interface PushedFileImage {
  repository: string;
  layer: LayerBlob;
  /** The layer's raw file inside the image folder, such as `layers/1-0123456789ab.tar.gz`. */
  rawLayerPath: string;
  /** The layer's folder inside the image folder, such as `layers/1-0123456789ab/`. */
  layerFolderPath: string;
}

/** Pushes an image of one layer holding `entries` as `repository:v1`. */
export async function pushLayerImage(
  host: string,
  repository: string,
  entries: readonly TarEntry[],
  compression: Compression = "gzip",
): Promise<PushedFileImage> {
  const layer = await makeLayer(entries, { compression });
  const config = makeImageConfig({ layers: [layer] });
  await pushImage(host, repository, "v1", { layers: [layer], config, format: "oci" });
  const name = `1-${hexOf(layer.digest).slice(0, 12)}`;
  const extension = layerFileExtensions[compression];
  return {
    repository,
    layer,
    rawLayerPath: `layers/${name}${extension}`,
    layerFolderPath: `layers/${name}/`,
  };
}

/** Returns the hex part of `sha256:<hex>`. */
export function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** Lists every file below a folder, relative to it; an absent folder has none. */
export async function listFiles(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** Lists the cache files of a blob: the raw blob, its tar and indexes, and temporary files. */
export async function cacheFilesOf(cacheDir: string, digest: string): Promise<string[]> {
  const hex = hexOf(digest);
  return (await listFiles(cacheDir)).filter((file) => file.includes(hex));
}

/** Reads the cached copy of a blob and returns its digest, or undefined when it is not cached. */
export async function cachedBlobDigest(
  cacheDir: string,
  digest: string,
): Promise<string | undefined> {
  const path = join(cacheDir, "blobs", "sha256", hexOf(digest));
  try {
    return sha256Digest(await readFile(path));
  } catch {
    return undefined;
  }
}

/** Returns the size of a file, or undefined when it does not exist. */
export async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

export interface RawResponse {
  /** The status of the first response line, or 0 when none arrived. */
  status: number;
  /** Everything the server sent, as Latin-1 text. */
  text: string;
  /** The body after the first blank line. */
  body: string;
}

/**
 * Writes `request` as raw bytes to 127.0.0.1:`port` and reads until the
 * server closes the connection or `timeoutMs` passes. Raw requests carry
 * targets that fetch would normalize, such as `/a/../b`.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 10_000) {
  return new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      // A server that closes after its response may reset a connection that still sends.
      if (chunks.length === 0) reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const bodyStart = text.indexOf("\r\n\r\n");
      resolve({ status, text, body: bodyStart === -1 ? "" : text.slice(bodyStart + 4) });
    });
    socket.write(request);
  });
}

/** Builds an HTTP/1.1 request with `Connection: close`, the extra header lines and a body. */
export function httpRequest(
  method: string,
  target: string,
  headers: readonly string[] = [],
  body = "",
): string {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  if (body !== "") lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return [...lines, ...headers, "", body].join("\r\n");
}

/** Returns the port of a URL such as `http://127.0.0.1:PORT/`. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Encodes each segment of a share path for a URL. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** 2024-01-01T00:00:00Z in seconds, the modification time of every rawTarHeader entry. */
const RAW_TAR_MTIME = 1_704_067_200;

/** Tar type flags that rawTarHeader writes. */
export type RawTarType = "file" | "directory" | "symlink" | "hardlink";

const rawTypeFlags: Record<RawTarType, string> = {
  file: "0",
  directory: "5",
  symlink: "2",
  hardlink: "1",
};

/**
 * Builds one 512-byte ustar header with a valid checksum, without a tar
 * library, so tests can build huge or broken archives quickly. `name` and
 * `linkName` must fit in 100 bytes.
 */
export function rawTarHeader(name: string, size: number, type: RawTarType = "file", linkName = "") {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(type === "directory" ? "0000755\0" : "0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(size.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  header.write(RAW_TAR_MTIME.toString(8).padStart(11, "0") + "\0", 136, "latin1");
  header.write(rawTypeFlags[type], 156, "latin1");
  header.write(linkName, 157, 100, "utf8");
  header.write("ustar\0" + "00", 257, "latin1");
  header.write("        ", 148, "latin1");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return header;
}

/** Returns the zero bytes that pad `size` content bytes to a whole 512-byte block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** The two zero blocks that end a tar archive. */
export const TAR_END = Buffer.alloc(1024);

/** A loopback port whose connections never complete, for connect timeout tests. */
export interface BlackHole {
  readonly host: string;
  close(): void;
}

/**
 * Starts a listener whose process never accepts: a child node process that
 * listens with a backlog of 1 and then blocks its thread. Once a few
 * connections fill the accept queue, the kernel drops new SYNs, so a
 * connect attempt waits until its own timeout, as towards a host that is down.
 */
export async function startBlackHole(): Promise<BlackHole> {
  const script = [
    'const server = require("node:net").createServer();',
    'server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {',
    "  console.log(server.address().port);",
    "  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300000), 50);",
    "});",
  ].join("\n");
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (data: Buffer) => resolve(Number(data.toString().trim())));
    child.once("exit", (code) => reject(new Error(`black hole listener exited with ${code}`)));
  });
  await sleep(200);

  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    fillers.push(socket);
    await sleep(50);
  }
  return {
    host: `127.0.0.1:${port}`,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill("SIGKILL");
    },
  };
}
