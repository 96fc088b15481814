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

/**
 * Largest zstd window a frame may declare: zstd's default decoder limit
 * (windowLog 27), which the zstd program and Node's own decoder apply too.
 * fzstd, which regdav uses on Node releases without a zstd decoder, allocates
 * the declared window up front, so a frame header asking for 1 GiB costs 1 GiB.
 */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/**
 * Decompresses zstd frames and returns at most `maxBytes` bytes of output.
 * Throws, before decoding, when a frame declares a window above MAX_ZSTD_WINDOW.
 */
export function unzstdPrefix(compressed: Buffer, maxBytes: number): Promise<Buffer> {
  checkZstdWindows(compressed);
  return decompressPrefix(createZstdDecompressor(), compressed, maxBytes);
}

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;

/**
 * Walks the frames in `compressed` (RFC 8878, section 3.1) and throws when
 * one declares a window, or in a single-segment frame a content size, above
 * MAX_ZSTD_WINDOW. The walk stops at the first bytes that are not a whole
 * frame header, and the decoder reports those.
 */
function checkZstdWindows(compressed: Buffer): void {
  let position = 0;
  while (position + 8 <= compressed.length) {
    const magic = compressed.readUInt32LE(position);
    if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC_BASE) {
      position += 8 + compressed.readUInt32LE(position + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) return;
    const descriptor = compressed[position + 4]!;
    const singleSegment = (descriptor & 0x20) !== 0;
    const dictionaryIdSize = [0, 1, 2, 4][descriptor & 0x03]!;
    const contentSizeSize = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >>> 6]!;
    const fieldsStart = position + 5;
    const headerEnd = fieldsStart + (singleSegment ? 0 : 1) + dictionaryIdSize + contentSizeSize;
    if (headerEnd > compressed.length) return;
    const window = singleSegment
      ? contentSizeOf(compressed.subarray(headerEnd - contentSizeSize, headerEnd))
      : windowSizeOf(compressed[fieldsStart]!);
    if (window > MAX_ZSTD_WINDOW) {
      throw new Error(`the zstd frame at byte ${position} declares a window of ${window} bytes, more than the ${MAX_ZSTD_WINDOW} allowed`);
    }
    position = frameEnd(compressed, headerEnd, (descriptor & 0x04) !== 0);
  }
}

/** Window_Size from a Window_Descriptor: 2^(10 + exponent), plus eighths of that by the mantissa. */
function windowSizeOf(descriptor: number): number {
  const base = 2 ** (10 + (descriptor >>> 3));
  return base + (base / 8) * (descriptor & 0x07);
}

/** Frame_Content_Size is little-endian; its 2-byte form stores the size minus 256. */
function contentSizeOf(field: Buffer): number {
  if (field.length === 1) return field[0]!;
  if (field.length === 2) return field.readUInt16LE(0) + 256;
  if (field.length === 4) return field.readUInt32LE(0);
  return field.readUInt32LE(0) + field.readUInt32LE(4) * 2 ** 32;
}

/** Returns the offset after the frame whose blocks start at `position`, or the buffer's length when it is cut short. */
function frameEnd(compressed: Buffer, position: number, hasChecksum: boolean): number {
  for (;;) {
    if (position + 3 > compressed.length) return compressed.length;
    const header = compressed[position]! + compressed[position + 1]! * 0x100 + compressed[position + 2]! * 0x10000;
    const type = (header >>> 1) & 3;
    // An RLE block stores one byte; its size field is the regenerated size.
    position += 3 + (type === 1 ? 1 : header >>> 3);
    if ((header & 1) === 1) return position + (hasChecksum ? 4 : 0);
  }
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
