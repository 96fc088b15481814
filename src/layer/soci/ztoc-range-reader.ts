import { Readable } from "node:stream";
import * as zlib from "node:zlib";

import { ByteReader } from "../random-access/byte-reader.js";
import { pumpThrough, READ_INFLATE_CHUNK_SIZE } from "../random-access/chunk-streams.js";
import { startAtBit } from "../random-access/deflate-preamble.js";
import type { FetchCompressed } from "../random-access/fetch-compressed.js";
import { DEFLATE_WINDOW_SIZE } from "../random-access/gzip-checkpoint-index.js";
import { lastAtOrBefore } from "../random-access/offset-search.js";
import { OutputTail } from "../random-access/output-tail.js";
import { checkReadRange, iteratorOf } from "../random-access/range-checks.js";
import { corruptDataError, isZlibError } from "../random-access/random-access-errors.js";
import { sha256Digest } from "../../reference/digest.js";
import { spanBytes, type ZtocAccess } from "./ztoc-access.js";
import { WrongZtocError } from "./ztoc-error.js";

/** Verified compressed bytes written to the inflater at once, which bounds its output per write. */
const INFLATE_WRITE_SIZE = 16 * 1024;

/**
 * Opens the uncompressed bytes [offset, offset + length) of a gzip layer
 * through its zTOC, with one fetch of the spans that contain them. Each span's
 * compressed bytes are checked against the digest the zTOC stores before
 * any of them reach the inflater, so a changed blob fails the stream with
 * an INVALID_LAYER error and no byte of the bad span is served. Throws
 * RANGE_NOT_SATISFIABLE at once for a range outside the tar.
 */
export function readZtocRange(
  access: ZtocAccess,
  fetchCompressed: FetchCompressed,
  offset: number,
  length: number,
  streamName: string,
): Readable {
  checkReadRange(streamName, offset, length, access.uncompressedSize);
  if (length === 0) return Readable.from([]);
  return Readable.from(inflateSpans(access, fetchCompressed, offset, offset + length, streamName), { objectMode: false });
}

async function* inflateSpans(
  access: ZtocAccess,
  fetchCompressed: FetchCompressed,
  rangeStart: number,
  rangeEnd: number,
  streamName: string,
): AsyncGenerator<Buffer> {
  const spans = access.spans;
  const first = lastAtOrBefore(spans, rangeStart);
  let end = first + 1;
  while (end < spans.length && spans[end]!.uncompressedOffset < rangeEnd) end++;

  const fetchStart = spanBytes(access, first).start;
  const fetchEnd = spanBytes(access, end - 1).end;
  const reader = new ByteReader(await fetchCompressed(fetchStart, fetchEnd - 1), streamName, fetchStart);
  const start = spans[first]!;
  const input = iteratorOf(startAtBit(verifiedSpans(access, reader, first, end, streamName), start.compressedBitOffset % 8));
  const inflater = zlib.createInflateRaw({
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    chunkSize: READ_INFLATE_CHUNK_SIZE,
    ...(start.window.length > 0 ? { dictionary: start.window } : {}),
  });

  const windows = new WindowCheck(access, first, streamName);
  let position = start.uncompressedOffset;
  try {
    for await (const chunk of pumpThrough(input, inflater)) {
      windows.accept(chunk, position);
      const from = Math.max(0, rangeStart - position);
      const to = Math.min(chunk.length, rangeEnd - position);
      position += chunk.length;
      if (to > from) yield chunk.subarray(from, to);
      if (position >= rangeEnd) return;
    }
  } catch (error) {
    throw inflateError(error, streamName, fetchStart, position);
  } finally {
    await reader.close();
  }
  const problem = `the deflate data ends at uncompressed offset ${position}, before the read's end at ${rangeEnd}`;
  throw corruptDataError(streamName, problem, { uncompressedOffset: position });
}

/**
 * Yields the compressed bytes of spans [first, end) in order, each byte
 * once, in slices of at most INFLATE_WRITE_SIZE. A span is yielded only
 * after its bytes matched its digest. The byte that two spans share, where
 * a checkpoint starts inside a byte, is kept for the next span's check.
 */
async function* verifiedSpans(
  access: ZtocAccess,
  reader: ByteReader,
  first: number,
  end: number,
  streamName: string,
): AsyncGenerator<Buffer> {
  let carried = Buffer.alloc(0);
  for (let i = first; i < end; i++) {
    const { start, end: spanEnd } = spanBytes(access, i);
    const fresh = await reader.readExact(spanEnd - start - carried.length, `compressed span ${i}`);
    const bytes = carried.length > 0 ? Buffer.concat([carried, fresh]) : fresh;
    checkSpanDigest(access, i, bytes, streamName, start);

    const nextStart = i + 1 < access.spans.length ? spanBytes(access, i + 1).start : spanEnd;
    const own = bytes.subarray(0, nextStart - start);
    carried = Buffer.from(bytes.subarray(nextStart - start));
    for (let at = 0; at < own.length; at += INFLATE_WRITE_SIZE) yield own.subarray(at, at + INFLATE_WRITE_SIZE);
  }
}

/**
 * Throws unless the span's bytes have the digest the zTOC states. soci
 * versions differ on whether a span whose successor starts inside a byte
 * includes that byte, so both lengths are accepted.
 */
function checkSpanDigest(access: ZtocAccess, i: number, bytes: Buffer, streamName: string, start: number): void {
  const expected = access.spans[i]!.digest;
  if (sha256Digest(bytes) === expected) return;
  const next = access.spans[i + 1];
  const sharesByte = next !== undefined && next.compressedBitOffset % 8 !== 0;
  if (sharesByte && sha256Digest(bytes.subarray(0, bytes.length - 1)) === expected) return;
  const problem = `compressed span ${i} (bytes ${start}-${start + bytes.length - 1}) does not match its zTOC digest ${expected}`;
  throw corruptDataError(streamName, problem, { compressedOffset: start });
}

/**
 * Compares the output with the windows of the checkpoints it passes. The
 * span digests cover compressed bytes only, so a zTOC could contain a window
 * that is not the data before its checkpoint. That makes a read that starts
 * there inflate wrong bytes. A read that starts at an earlier checkpoint and
 * runs past this one has decoded the real data before it, so it fails here
 * and reports the zTOC as wrong. A read that starts at the wrong window
 * itself cannot tell.
 */
class WindowCheck {
  private readonly tail = new OutputTail(DEFLATE_WINDOW_SIZE);
  private next: number;

  constructor(
    private readonly access: ZtocAccess,
    first: number,
    private readonly streamName: string,
  ) {
    this.next = first + 1;
  }

  /** Takes the next chunk of output, which starts at uncompressed offset `position`. */
  accept(chunk: Buffer, position: number): void {
    let used = 0;
    while (this.next < this.access.spans.length) {
      const checkpoint = this.access.spans[this.next]!;
      const take = checkpoint.uncompressedOffset - (position + used);
      if (take > chunk.length - used) break;
      this.tail.add(chunk.subarray(used, used + take));
      used += take;
      this.check(this.next);
      this.next++;
    }
    this.tail.add(chunk.subarray(used));
  }

  private check(i: number): void {
    const window = this.access.spans[i]!.window;
    const decoded = this.tail.snapshot();
    if (decoded.length < window.length) return;
    if (decoded.subarray(decoded.length - window.length).equals(window)) return;
    const offset = this.access.spans[i]!.uncompressedOffset;
    const problem = `the window of zTOC checkpoint ${i} is not the data before uncompressed offset ${offset}`;
    throw new WrongZtocError(this.streamName, problem, offset);
  }
}

function inflateError(error: unknown, streamName: string, fetchStart: number, position: number): unknown {
  if (isZlibError(error)) {
    const problem = `invalid deflate data in the spans from compressed offset ${fetchStart}: ${error.message}`;
    return corruptDataError(streamName, problem, { uncompressedOffset: position }, error);
  }
  return error;
}
