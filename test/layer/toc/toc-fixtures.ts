import { createHash } from "node:crypto";
import { Readable } from "node:stream";

import type { TarEntry } from "../../harness/layer-tar.js";
import type { TocLayer } from "../../harness/zstd-chunked.js";
import { defaultLayerLimits, type LayerLimits } from "../../../src/layer/layer-limits.js";
import type { RangeFetcher } from "../../../src/layer/toc/compressed-bytes.js";
import { readLayerToc } from "../../../src/layer/toc/read-layer-toc.js";
import { locateToc } from "../../../src/layer/toc/toc-annotations.js";
import type { TocListing } from "../../../src/layer/toc/toc-index.js";

/** Deterministic bytes that do not compress (SHA-256 in counter mode), so files span several chunks. */
export function noise(size: number, seed: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; counter * 32 < size; counter++) {
    blocks.push(createHash("sha256").update(`${seed}:${counter}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** Returns layer entries of every kind, with chunked and unchunked files, a hole and whiteouts. */
export function sampleEntries(): TarEntry[] {
  return [
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/hello.txt", content: "hello\n" },
    { type: "file", path: "etc/empty", content: "" },
    { type: "symlink", path: "etc/link", target: "hello.txt" },
    { type: "hardlink", path: "etc/hard", target: "etc/hello.txt" },
    { type: "file", path: "etc/.wh.gone", content: "" },
    { type: "directory", path: "opq" },
    { type: "file", path: "opq/.wh..wh..opq", content: "" },
    { type: "fifo", path: "run-fifo" },
    { type: "char-device", path: "dev-null", devmajor: 1, devminor: 3 },
    { type: "directory", path: "data" },
    { type: "file", path: "data/big.bin", content: noise(300_000, 1) },
    { type: "file", path: "data/holes.bin", content: Buffer.concat([noise(70_000, 2), Buffer.alloc(200_000), noise(10_000, 3)]) },
    { type: "file", path: "data/text.txt", content: "line\n".repeat(50_000) },
    { type: "file", path: "data/small.bin", content: noise(5_000, 4) },
  ];
}

/** Reads ranges of an in-memory blob and records each request. */
export function bufferFetcher(blob: Buffer, requests: [number, number][] = []): RangeFetcher {
  return async (start, end) => {
    requests.push([start, end]);
    return Readable.from([blob.subarray(start, end + 1)]);
  };
}

export function contentOf(entries: readonly TarEntry[], path: string): Buffer {
  const entry = entries.find((candidate) => candidate.path === path);
  if (!entry || entry.type !== "file") throw new Error(`no file ${path} in the test entries`);
  return Buffer.from(entry.content ?? "");
}

/**
 * Lists a test layer from its TOC, read from the layer's bytes in memory,
 * with the layer's own annotations and the default limits unless given.
 */
export function listTestLayer(
  layer: TocLayer,
  options: { annotations?: Record<string, string>; limits?: LayerLimits } = {},
): Promise<TocListing> {
  const location = locateToc(options.annotations ?? layer.annotations);
  if (!location) throw new Error("the test layer has no TOC annotations");
  const request = { digest: layer.digest, size: layer.size, location, limits: options.limits ?? defaultLayerLimits };
  return readLayerToc(request, bufferFetcher(layer.bytes));
}

/** Reads a stream to its end, also collecting each chunk into `received` as it arrives. */
export async function readStream(stream: NodeJS.ReadableStream, received: Buffer[] = []): Promise<Buffer> {
  for await (const chunk of stream) received.push(chunk as Buffer);
  return Buffer.concat(received);
}
