import { Readable } from "node:stream";
import * as zlib from "node:zlib";

import { ByteReader } from "./byte-reader.js";
import { pumpThrough, READ_INFLATE_CHUNK_SIZE, readBytes } from "./chunk-streams.js";
import { startAtBit } from "./deflate-preamble.js";
import type { FetchCompressed, ReadRangeOptions } from "./fetch-compressed.js";
import {
  findGzipSpan,
  intervalCrcSeed,
  intervalEnd,
  type GzipCheckpointIndex,
  type GzipSpan,
} from "./gzip-checkpoint-index.js";
import { checkReadRange, expectFetchEnd, iteratorOf } from "./range-checks.js";
import { corruptDataError, isZlibError } from "./random-access-errors.js";
import { SpanVerifier, type CheckedInterval } from "./span-verifier.js";

/**
 * Compressed bytes written to the inflater at once. It bounds memory: one
 * write can inflate to about 1032 times its size (deflate's maximum ratio).
 */
const INFLATE_WRITE_SIZE = 16 * 1024;

/** Part of a span that one raw inflater decodes, up to its member's end or the span's end. */
interface Segment {
  compressedBitOffset: number;
  byteLength: number;
  window: Buffer;
  uncompressedEnd: number;
  /** True when the segment ends at the end of its member's deflate data. */
  endsMember: boolean;
}

/**
 * Opens the uncompressed bytes [offset, offset + length) of a gzip blob with
 * one fetch: the compressed bytes from the checkpoint at or before `offset`
 * to the first checkpoint at or after the range's end. It inflates them from
 * the checkpoint's window and streams exactly the range.
 *
 * It decodes every interval that the span touches to its end and checks it
 * against the CRC-32 that the index stores, so corrupt compressed bytes
 * make the stream fail with an INVALID_LAYER error instead of ending. Bytes
 * passed on before that error may be wrong, so a consumer must discard what
 * it read from a failed stream. Throws RANGE_NOT_SATISFIABLE at once for a
 * range outside the uncompressed data.
 */
export function readGzipRange(
  index: GzipCheckpointIndex,
  fetchCompressed: FetchCompressed,
  offset: number,
  length: number,
  options: ReadRangeOptions = {},
): Readable {
  const streamName = options.streamName ?? "gzip stream";
  checkReadRange(streamName, offset, length, index.uncompressedSize);
  if (length === 0) return Readable.from([]);

  const span = findGzipSpan(index, offset, length);
  const range = { offset, length, streamName };
  return Readable.from(inflateSpan(index, span, fetchCompressed, range), { objectMode: false });
}

async function* inflateSpan(
  index: GzipCheckpointIndex,
  span: GzipSpan,
  fetchCompressed: FetchCompressed,
  range: { offset: number; length: number; streamName: string },
): AsyncGenerator<Buffer> {
  const { offset, length, streamName } = range;
  const intervals = spanIntervals(index, span);
  const verifier = new SpanVerifier(intervals, offset, offset + length, streamName);
  const fetched = await fetchCompressed(span.compressedStart, span.compressedEndInclusive);
  const reader = new ByteReader(fetched, streamName, span.compressedStart);
  try {
    for (const segment of spanSegments(index, span)) {
      yield* inflateSegment(reader, segment, verifier, streamName);
      if (segment.endsMember) verifier.expectEndAt(segment.uncompressedEnd);
      else verifier.expectReached(segment.uncompressedEnd);
    }
    await expectFetchEnd(reader, span.compressedStart, span.compressedEndInclusive, streamName);
  } finally {
    await reader.close();
  }
}

async function* inflateSegment(
  reader: ByteReader,
  segment: Segment,
  verifier: SpanVerifier,
  streamName: string,
): AsyncGenerator<Buffer> {
  const segmentEnd = reader.position + segment.byteLength;
  const bytes = readBytes(reader, segment.byteLength, "a compressed span", INFLATE_WRITE_SIZE);
  const input = iteratorOf(startAtBit(bytes, segment.compressedBitOffset % 8));
  const inflater = zlib.createInflateRaw({
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    chunkSize: READ_INFLATE_CHUNK_SIZE,
    ...(segment.window.length > 0 ? { dictionary: zlib.inflateRawSync(segment.window) } : {}),
  });
  try {
    for await (const chunk of pumpThrough(input, inflater)) {
      const inRange = verifier.accept(chunk);
      if (inRange) yield inRange;
    }
  } catch (error) {
    throw inflateError(error, streamName, segment, verifier);
  }
  // The inflater stops after the member's last block, so the rest of the segment (the
  // gzip trailer and the next member's header) is skipped here.
  for await (const _ of readBytes(reader, segmentEnd - reader.position, "a compressed span"));
}

/** Splits a span where a gzip member starts, because each member is a separate deflate stream. */
function* spanSegments(index: GzipCheckpointIndex, span: GzipSpan): Generator<Segment> {
  const checkpoints = index.checkpoints;
  let start = span.first;
  for (let i = span.first + 1; i <= span.end; i++) {
    const next = checkpoints[i];
    if (i < span.end && !next!.memberStart) continue;

    const segmentStart = checkpoints[start]!;
    const startByte = Math.floor(segmentStart.compressedBitOffset / 8);
    const endByte =
      i < span.end ? Math.floor(next!.compressedBitOffset / 8) : span.compressedEndInclusive + 1;
    yield {
      compressedBitOffset: segmentStart.compressedBitOffset,
      byteLength: endByte - startByte,
      window: segmentStart.window,
      uncompressedEnd: next?.uncompressedOffset ?? index.uncompressedSize,
      endsMember: next === undefined || next.memberStart,
    };
    start = i;
  }
}

function spanIntervals(index: GzipCheckpointIndex, span: GzipSpan): CheckedInterval[] {
  const intervals: CheckedInterval[] = [];
  for (let i = span.first; i < span.end; i++) {
    const checkpoint = index.checkpoints[i]!;
    intervals.push({
      start: checkpoint.uncompressedOffset,
      end: intervalEnd(index, i),
      crcSeed: intervalCrcSeed(index, i),
      expectedCrc: checkpoint.endCrc,
    });
  }
  return intervals;
}

function inflateError(
  error: unknown,
  streamName: string,
  segment: Segment,
  verifier: SpanVerifier,
): unknown {
  if (isZlibError(error)) {
    const start = Math.floor(segment.compressedBitOffset / 8);
    const problem = `invalid deflate data in the span from compressed offset ${start}`;
    const position = { uncompressedOffset: verifier.uncompressedOffset };
    return corruptDataError(streamName, `${problem}: ${error.message}`, position, error);
  }
  return error;
}
