import { execFile } from "node:child_process";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { RegdavError } from "../../src/errors.js";
import { createShareServer, type ShareServerOptions } from "../../src/webdav/share-server.js";
import { MemoryTree, pseudoRandomBytes } from "./memory-tree.js";

/** Names that break naive URL or XML handling; each is a file in /tricky/ whose content is its name. */
export const TRICKY_NAMES = [
  "a#b",
  "what?",
  "100%",
  "sp ace",
  'quote"s',
  "<tag>&amp",
  "ünï",
  "semi;colon",
  "plus+sign",
  "it's (1)*!~",
  "日本語 🎉",
];

/** Size of /random.bin: about 5 MB and odd, so no range lines up with a chunk. */
export const RANDOM_SIZE = 5 * 1024 * 1024 + 321;
export const RANDOM_BYTES = pseudoRandomBytes(RANDOM_SIZE, 20240506);

/** /broken.bin sends this many bytes of its 1 MiB, then its stream errors. */
export const BROKEN_AFTER = 200_000;

export const REGISTRY_FAILURE =
  "registry 127.0.0.1:5999 answered 503 Service Unavailable for the manifest of library/busybox";

/** Builds the tree most tests serve. */
export function buildSampleTree(): MemoryTree {
  const tree = new MemoryTree();
  tree.addFolder(["tricky"]);
  for (const name of TRICKY_NAMES) tree.addFile(["tricky", name], name);
  tree.addFolder(["tricky", "sub folder#1"]);
  tree.addFile(["tricky", "sub folder#1", "inner?.txt"], "inner");

  tree.addFile(["random.bin"], RANDOM_BYTES, { etag: "sha256:0123abcd" });
  tree.addFile(["broken.bin"], pseudoRandomBytes(1024 * 1024, 7), { failAfterBytes: BROKEN_AFTER });
  tree.addFile(["empty.txt"], "");
  tree.addFile(["typed.json"], '{"a":1}\n', { contentType: "application/json" });

  const registryDown = new RegdavError("REGISTRY_ERROR", REGISTRY_FAILURE);
  tree.addFolder(["registry-down"], { openError: registryDown });
  tree.addFile(["read-fails.bin"], "never sent", { openError: registryDown });
  tree.addFile(["stat-fails.bin"], "never sent", { statError: registryDown });

  tree.addFolder(["unservable"]);
  tree.addFile(["unservable", "back\\slash"], "x");
  tree.addFile(["unservable", "control\u0001char"], "x");
  tree.addFile(["unservable", "plain.txt"], "x");
  return tree;
}

export interface RunningShare {
  server: Server;
  port: number;
  origin: string;
  close(): Promise<void>;
}

/** Starts a share on 127.0.0.1 with an ephemeral port. */
export async function startShare(options: ShareServerOptions): Promise<RunningShare> {
  const server = createShareServer(options) as Server;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sends `text` as it is on a new connection and returns everything the
 * server sent until it closed the connection or `timeoutMs` passed. `extra`
 * is written after the request, e.g. part of a body.
 */
export function rawRequest(
  port: number,
  text: string,
  extra?: Buffer,
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(received).toString("latin1"));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", (chunk) => received.push(chunk));
    socket.on("close", finish);
    socket.on("error", finish);
    socket.write(text);
    if (extra) socket.write(extra, () => undefined);
  });
}

/** Returns the status code of a raw HTTP response. */
export function statusOf(rawResponse: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(rawResponse)?.[1] ?? NaN);
}

export interface CurlResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

export function runCurl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["--silent", "--show-error", ...args],
      { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const exitCode = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ exitCode, stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

export interface DavResponse {
  href: string;
  /** Text of each property element, by local name; `resourcetype` is "collection" for folders. */
  props: Record<string, string>;
}

/** Parses a multistatus body just enough for the tests: each response's href and simple properties. */
export function parseMultistatus(xml: string): DavResponse[] {
  const responses: DavResponse[] = [];
  for (const match of xml.matchAll(/<(?:\w+:)?response\b[^>]*>([\s\S]*?)<\/(?:\w+:)?response>/g)) {
    const inner = match[1] ?? "";
    const href = /<(?:\w+:)?href>([^<]*)<\/(?:\w+:)?href>/.exec(inner)?.[1];
    if (href === undefined) throw new Error(`response without href: ${inner}`);

    const props: Record<string, string> = {};
    for (const prop of inner.matchAll(/<(?:\w+:)?(\w+)>([^<]*)<\/(?:\w+:)?\1>/g)) {
      props[prop[1] ?? ""] = decodeXmlText(prop[2] ?? "");
    }
    if (/<(?:\w+:)?collection\s*\/>/.test(inner)) props["resourcetype"] = "collection";
    responses.push({ href: decodeXmlText(href), props });
  }
  return responses;
}

function decodeXmlText(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&amp;/g, "&");
}

/** Sends a PROPFIND with fetch; `depth` undefined sends no Depth header. */
export function propfind(url: string, depth?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (depth !== undefined) headers.set("Depth", depth);
  return fetch(url, { ...init, method: "PROPFIND", headers });
}
