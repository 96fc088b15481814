import { createHash } from "node:crypto";
import { Readable } from "node:stream";

import { RegdavError } from "../../errors.js";
import { sha256Digest } from "../../reference/digest.js";
import { findChunk, type ChunkTable, type TocChunk } from "./chunk-table.js";
import { fetchBytes, gunzipPrefix, unzstdPrefix, type RangeFetcher } from "./compressed-bytes.js";

/**
 * Chunks whose compressed bytes lie closer together than this are fetched
 * with one Range request. The gap between the chunks of consecutive files
 * contains their tar headers, usually under 1 KiB per file.
 */
const MAX_FETCH_GAP = 64 * 1024;
/** A Range request stops collecting chunks once it covers this many compressed bytes. */
const MAX_FETCH_BYTES = 8 * 1024 * 1024;
/** Zeros of a hole are passed on in pieces of this size. */
const ZEROS_PIECE = 1024 * 1024;
/** Digests of runs of zeros by length, so that reads of the same holes hash them once. */
const zerosDigests = new Map<number, string>();
const MAX_ZEROS_DIGESTS = 64;

/**
 * Opens `length` bytes at `virtualOffset` of a TOC layer's content space.
 * Only the chunks that cover the range are fetched. Each chunk is
 * decompressed and checked against its sha256 digest before any of its
 * bytes are passed on. A chunk whose bytes were changed never reaches the
 * reader: it fails the stream with INVALID_LAYER, naming the layer, the
 * file and the chunk.
 */
export function readTocContent(
  table: ChunkTable,
  fetch: RangeFetcher,
  virtualOffset: number,
  length: number,
): Readable {
  return Readable.from(readChunks(table, fetch, virtualOffset, length), { objectMode: false });
}

async function* readChunks(
  table: ChunkTable,
  fetch: RangeFetcher,
  virtualOffset: number,
  length: number,
): AsyncGenerator<Buffer> {
  const end = virtualOffset + length;
  let position = findChunk(table, virtualOffset);
  if (length > 0 && position < 0) {
    throw new RegdavError("RANGE_NOT_SATISFIABLE", `layer ${table.digest}: no chunk contains content offset ${virtualOffset}`);
  }
  let offset = virtualOffset;
  while (offset < end) {
    const group = nextGroup(table, position, end);
    if (group.length === 0) {
      throw new RegdavError("RANGE_NOT_SATISFIABLE", `layer ${table.digest}: no chunk contains content offset ${offset}`);
    }
    const fetched = await fetchGroup(fetch, group, table.digest);
    for (const chunk of group) {
      const from = Math.max(offset, chunk.virtualStart) - chunk.virtualStart;
      const to = Math.min(end, chunk.virtualStart + chunk.size) - chunk.virtualStart;
      if (chunk.zeros) {
        checkZerosDigest(table, chunk);
        for (let start = from; start < to; start += ZEROS_PIECE) yield Buffer.alloc(Math.min(ZEROS_PIECE, to - start));
      } else {
        const bytes = await verifiedChunk(table, chunk, fetched!);
        yield bytes.subarray(from, to);
      }
      offset = chunk.virtualStart + to;
    }
    position += group.length;
  }
}

/** Takes the chunks from `position` on that one Range request fetches; holes join any group. */
function nextGroup(table: ChunkTable, position: number, end: number): TocChunk[] {
  const group: TocChunk[] = [];
  let first: TocChunk | undefined;
  let last: TocChunk | undefined;
  for (let next = position; next < table.chunks.length; next++) {
    const chunk = table.chunks[next]!;
    if (chunk.virtualStart >= end) break;
    if (!chunk.zeros) {
      const tooFar = last && (chunk.compressedStart < last.compressedEnd || chunk.compressedStart - last.compressedEnd > MAX_FETCH_GAP);
      const tooLarge = first && chunk.compressedEnd - first.compressedStart > MAX_FETCH_BYTES;
      if (tooFar || tooLarge) break;
      first ??= chunk;
      last = chunk;
    }
    group.push(chunk);
  }
  return group;
}

/** Compressed bytes fetched for a group of chunks, starting at blob offset `start`. */
interface FetchedRange {
  start: number;
  bytes: Buffer;
}

async function fetchGroup(fetch: RangeFetcher, group: readonly TocChunk[], digest: string): Promise<FetchedRange | undefined> {
  const stored = group.filter((chunk) => !chunk.zeros);
  if (stored.length === 0) return undefined;
  const start = stored[0]!.compressedStart;
  const end = stored.at(-1)!.compressedEnd;
  try {
    return { start, bytes: await fetchBytes(fetch, start, end) };
  } catch (error) {
    if (error instanceof RegdavError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new RegdavError("INVALID_LAYER", `layer ${digest}: reading chunk bytes ${start}-${end - 1} failed: ${reason}`, { cause: error });
  }
}

/** Decompresses one chunk and checks its digest; throws INVALID_LAYER on any mismatch. */
async function verifiedChunk(table: ChunkTable, chunk: TocChunk, fetched: FetchedRange): Promise<Buffer> {
  const compressed = fetched.bytes.subarray(chunk.compressedStart - fetched.start, chunk.compressedEnd - fetched.start);
  const place = `layer ${table.digest}: file ${chunk.path}, chunk at offset ${chunk.chunkOffset} (${chunk.size} bytes, compressed bytes ${chunk.compressedStart}-${chunk.compressedEnd - 1})`;
  const neededBytes = chunk.innerOffset + chunk.size;
  let output: Buffer;
  try {
    output = table.toc === "estargz" ? await gunzipPrefix(compressed, neededBytes) : await unzstdPrefix(compressed, neededBytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RegdavError("INVALID_LAYER", `${place}: decompression failed: ${reason}`, { cause: error });
  }
  if (output.length < neededBytes) {
    throw new RegdavError("INVALID_LAYER", `${place}: decompressed to ${output.length - chunk.innerOffset} bytes, expected ${chunk.size}`);
  }
  const bytes = output.subarray(chunk.innerOffset, neededBytes);
  const actual = sha256Digest(bytes);
  if (actual !== chunk.digest) {
    throw new RegdavError("INVALID_LAYER", `${place}: digest mismatch: the TOC states ${chunk.digest}, the bytes have ${actual}`);
  }
  return bytes;
}

/**
 * Checks a hole against the digest its TOC entry states, if any. A TOC that
 * marks data as zeros but gives the digest of other bytes contradicts
 * itself, so its zeros are not served as the file's content.
 */
function checkZerosDigest(table: ChunkTable, chunk: TocChunk): void {
  if (chunk.digest === undefined) return;
  let actual = zerosDigests.get(chunk.size);
  if (actual === undefined) {
    const hash = createHash("sha256");
    const piece = Buffer.alloc(Math.min(ZEROS_PIECE, chunk.size));
    for (let done = 0; done < chunk.size; done += piece.length) hash.update(piece.subarray(0, Math.min(piece.length, chunk.size - done)));
    actual = "sha256:" + hash.digest("hex");
    if (zerosDigests.size >= MAX_ZEROS_DIGESTS) zerosDigests.clear();
    zerosDigests.set(chunk.size, actual);
  }
  if (actual !== chunk.digest) {
    throw new RegdavError(
      "INVALID_LAYER",
      `layer ${table.digest}: file ${chunk.path}, chunk at offset ${chunk.chunkOffset} (${chunk.size} bytes) is marked as zeros, but the TOC states digest ${chunk.digest} and ${chunk.size} zero bytes have ${actual}`,
    );
  }
}
