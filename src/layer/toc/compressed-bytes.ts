import type { Readable } from "node:stream";
import * as zlib from "node:zlib";

import { createZstdDecompressor } from "../zstd-decompressor.js";

/** Opens bytes `start` to `end` (inclusive) of a blob, usually by one HTTP Range request. */
export type RangeFetcher = (start: number, end: number) => Promise<Readable>;

/**
 * Reads bytes `start` to `end` (exclusive) of a blob into memory. Throws when
 * the source sends fewer or more bytes than requested.
 */
export async function fetchBytes(fetch: RangeFetcher, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const expected = end - start;
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of await fetch(start, end - 1)) {
    received += (chunk as Buffer).length;
    if (received > expected) throw new Error(`bytes ${start}-${end - 1}: received more than ${expected} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (received !== expected) throw new Error(`bytes ${start}-${end - 1}: received ${received} of ${expected} bytes`);
  return Buffer.concat(chunks);
}

/**
 * Decompresses gzip members (one or several, concatenated) and returns at
 * most `maxBytes` bytes of output. Decoding stops there, so a range that ends
 * with a member holding the next tar header costs nothing more.
 */
export function gunzipPrefix(compressed: Buffer, maxBytes: number): Promise<Buffer> {
  return decompressPrefix(zlib.createGunzip(), compressed, maxBytes);
}

/** Decompresses zstd frames and returns at most `maxBytes` bytes of output. */
export function unzstdPrefix(compressed: Buffer, maxBytes: number): Promise<Buffer> {
  return decompressPrefix(createZstdDecompressor(), compressed, maxBytes);
}

async function decompressPrefix(
  decompressor: NodeJS.ReadWriteStream & Readable,
  compressed: Buffer,
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  decompressor.end(compressed);
  for await (const chunk of decompressor) {
    const piece = chunk as Buffer;
    chunks.push(piece.subarray(0, maxBytes - total));
    total += Math.min(piece.length, maxBytes - total);
    if (total >= maxBytes) {
      decompressor.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}
