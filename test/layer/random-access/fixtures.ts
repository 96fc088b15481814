import { spawnSync } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Duplex } from "node:stream";

import type { FetchCompressed } from "../../../src/layer/random-access/fetch-compressed.js";

/** A small seeded generator (mulberry32), so failures can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const WORDS = [
  "layer",
  "image",
  "registry",
  "manifest",
  "digest",
  "blob",
  "tar",
  "file",
  "usr",
  "lib",
];

/**
 * Builds data that compresses like a real layer: runs of words (dynamic
 * Huffman blocks with long matches), random bytes (nearly incompressible)
 * and zero runs (highly compressible), in seeded random order.
 */
export function layerLikeData(size: number, seed = 1): Buffer {
  const random = seededRandom(seed);
  const data = Buffer.alloc(size);
  let position = 0;
  while (position < size) {
    const kind = random();
    const run = Math.min(size - position, 1 + Math.floor(random() * 20_000));
    if (kind < 0.6) {
      for (let end = position + run; position < end; ) {
        const word = WORDS[Math.floor(random() * WORDS.length)]! + (random() < 0.2 ? "\n" : " ");
        position += data.write(word, position, Math.min(word.length, size - position), "latin1");
      }
    } else if (kind < 0.85) {
      for (let i = 0; i < run; i++) data[position++] = Math.floor(random() * 256);
    } else {
      position += run;
    }
  }
  return data;
}

/** Yields `data` in chunks of `chunkSize` bytes, or of seeded random sizes when it is 0. */
export function chunksOf(data: Buffer, chunkSize: number, seed = 7): Buffer[] {
  const random = seededRandom(seed);
  const chunks: Buffer[] = [];
  for (let start = 0; start < data.length; ) {
    const size = chunkSize > 0 ? chunkSize : 1 + Math.floor(random() * 70_000);
    chunks.push(data.subarray(start, start + size));
    start += size;
  }
  return chunks;
}

/** Runs `data` through a transform in chunks and returns everything it output. */
export async function runThrough(transform: Duplex, data: Buffer, chunkSize = 0): Promise<Buffer> {
  const output: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(chunksOf(data, chunkSize)), transform, sink);
  return Buffer.concat(output);
}

/** Reads a stream to its end. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Fetch calls a test made, with the bytes each returned. */
export interface FetchLog {
  calls: Array<{ start: number; endInclusive: number }>;
  bytes: number;
}

/** Serves ranges of an in-memory blob in uneven chunks and logs each request. */
export function memoryFetch(
  blob: Buffer,
  log: FetchLog = { calls: [], bytes: 0 },
): FetchCompressed {
  return async (start, endInclusive) => {
    log.calls.push({ start, endInclusive });
    const range = blob.subarray(start, endInclusive + 1);
    log.bytes += range.length;
    return Readable.from(chunksOf(range, 0, start + 1));
  };
}

/** Runs a command with `input` on stdin and returns its stdout; throws on failure. */
export function runTool(command: string, args: string[], input: Buffer): Buffer {
  const result = spawnSync(command, args, { input, maxBuffer: 1 << 30 });
  if (result.error) throw new Error(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const commandLine = `${command} ${args.join(" ")}`;
    throw new Error(`${commandLine} failed with exit code ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Returns true when `command` is on PATH. */
export function hasTool(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/** Returns `count` bits of `blob` from bit `bitOffset`, lowest bit first as deflate packs them. */
export function bitsAt(blob: Buffer, bitOffset: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const bit = bitOffset + i;
    value |= ((blob[Math.floor(bit / 8)]! >> (bit % 8)) & 1) << i;
  }
  return value;
}
