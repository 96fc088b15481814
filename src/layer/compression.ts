import { PassThrough, Readable, type Duplex } from "node:stream";
import * as zlib from "node:zlib";

import type { LayerIndex } from "./layer-index.js";
import { createZstdDecompressor } from "./zstd-decompressor.js";

/**
 * Layer compression, detected from the first bytes of the blob. The media
 * type is not used because tools and registries can label a layer wrongly,
 * such as a plain tar typed as gzip.
 */
export type Compression = LayerIndex["compression"];

/** Bytes that detectCompression needs; fewer are enough only at the end of the blob. */
export const COMPRESSION_MAGIC_LENGTH = 4;

const GZIP_MAGIC = [0x1f, 0x8b];
/** The zstd frame magic 0xFD2FB528, little-endian. */
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Detects the compression from a blob's first bytes (fewer than four only for a tiny blob). */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return "gzip";
  if (startsWith(head, ZSTD_MAGIC) || isZstdSkippableMagic(head)) return "zstd";
  return "none";
}

/**
 * Checks for the magic of a zstd skippable frame, any of 0x184D2A50 to
 * 0x184D2A5F (little-endian `5? 2A 4D 18`). A zstd stream may start with one.
 */
function isZstdSkippableMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const [first = 0, second, third, fourth] = head;
  return (first & 0xf0) === 0x50 && second === 0x2a && third === 0x4d && fourth === 0x18;
}

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((byte, i) => head[i] === byte);
}

/**
 * Creates a stream that decompresses one layer. gzip reads every member of a
 * multi-member file (Node's gunzip continues at the next member's header),
 * zstd every frame; "none" passes bytes through.
 */
export function createDecompressor(compression: Compression): Duplex {
  switch (compression) {
    case "gzip":
      return zlib.createGunzip();
    case "zstd":
      return createZstdDecompressor();
    case "none":
      return new PassThrough();
  }
}

/**
 * Reads at least `length` bytes from the start of `stream` (fewer if it ends
 * first) without consuming them: the returned stream yields every byte,
 * those first ones included.
 */
export async function peekStreamHead(
  stream: Readable,
  length: number,
): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let ended = false;
  while (total < length && !ended) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      total += chunk.length;
    } else {
      ended = await waitForData(stream);
    }
  }

  const head = Buffer.concat(chunks);
  if (!ended) {
    if (head.length > 0) stream.unshift(head);
    return { head, stream };
  }
  return { head, stream: Readable.from(head.length > 0 ? [head] : []) };
}

/** Waits until `stream` can be read again; returns true when it ended instead. */
function waitForData(stream: Readable): Promise<boolean> {
  if (stream.errored) return Promise.reject(stream.errored);
  if (stream.readableEnded) return Promise.resolve(true);
  if (stream.destroyed) return Promise.reject(new Error("layer stream closed before it ended"));
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onReadable = () => (cleanup(), resolve(false));
    const onEnd = () => (cleanup(), resolve(true));
    const onError = (error: Error) => (cleanup(), reject(error));
    const onClose = () => (cleanup(), reject(new Error("layer stream closed before it ended")));
    stream.on("readable", onReadable);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.on("close", onClose);
  });
}
