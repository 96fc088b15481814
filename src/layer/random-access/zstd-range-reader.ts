import { Readable } from "node:stream";

import { createZstdDecompressor } from "../zstd-decompressor.js";
import { ByteReader } from "./byte-reader.js";
import { pumpThrough, readBytes } from "./chunk-streams.js";
import type { FetchCompressed, ReadRangeOptions } from "./fetch-compressed.js";
import { checkReadRange, expectFetchEnd, iteratorOf } from "./range-checks.js";
import { corruptDataError, RandomAccessError } from "./random-access-errors.js";
import { SpanVerifier, type CheckedInterval } from "./span-verifier.js";
import { findZstdSpan, frameEnd, type ZstdFrameIndex, type ZstdSpan } from "./zstd-frame-index.js";

/** Compressed bytes written to the decoder at once, which bounds the output of one write. */
const DECODER_WRITE_SIZE = 16 * 1024;

/**
 * Opens the uncompressed bytes [offset, offset + length) of a zstd blob with
 * one fetch of the frames that contain them. It decodes those frames whole
 * and checks each against the CRC-32 in the index, so corrupt data makes the
 * stream fail with an INVALID_LAYER error. Bytes passed on before that error
 * may be wrong. A read costs the decoding of whole frames, so a blob of one
 * large frame gains nothing (see isRandomAccessUseful). Throws
 * RANGE_NOT_SATISFIABLE at once for a range outside the uncompressed data.
 */
export function readZstdRange(
  index: ZstdFrameIndex,
  fetchCompressed: FetchCompressed,
  offset: number,
  length: number,
  options: ReadRangeOptions = {},
): Readable {
  const streamName = options.streamName ?? "zstd stream";
  checkReadRange(streamName, offset, length, index.uncompressedSize);
  if (length === 0) return Readable.from([]);

  const span = findZstdSpan(index, offset, length);
  const range = { offset, length, streamName };
  return Readable.from(decodeSpan(index, span, fetchCompressed, range), { objectMode: false });
}

async function* decodeSpan(
  index: ZstdFrameIndex,
  span: ZstdSpan,
  fetchCompressed: FetchCompressed,
  range: { offset: number; length: number; streamName: string },
): AsyncGenerator<Buffer> {
  const { offset, length, streamName } = range;
  const intervals = spanIntervals(index, span);
  const verifier = new SpanVerifier(intervals, offset, offset + length, streamName);
  const { compressedStart, compressedEndInclusive } = span;
  const reader = new ByteReader(
    await fetchCompressed(compressedStart, compressedEndInclusive),
    streamName,
    compressedStart,
  );
  const spanLength = compressedEndInclusive + 1 - compressedStart;
  const input = iteratorOf(readBytes(reader, spanLength, "a compressed span", DECODER_WRITE_SIZE));
  try {
    for await (const chunk of pumpThrough(input, createZstdDecompressor())) {
      const inRange = verifier.accept(chunk);
      if (inRange) yield inRange;
    }
    verifier.expectEndAt(frameEnd(index, span.end - 1));
    await expectFetchEnd(reader, compressedStart, compressedEndInclusive, streamName);
  } catch (error) {
    throw decodeError(error, streamName, compressedStart, verifier);
  } finally {
    await reader.close();
  }
}

function spanIntervals(index: ZstdFrameIndex, span: ZstdSpan): CheckedInterval[] {
  const intervals: CheckedInterval[] = [];
  for (let i = span.first; i < span.end; i++) {
    const frame = index.frames[i]!;
    const end = frameEnd(index, i);
    intervals.push({ start: frame.uncompressedOffset, end, crcSeed: 0, expectedCrc: frame.crc });
  }
  return intervals;
}

function decodeError(error: unknown, streamName: string, start: number, verifier: SpanVerifier) {
  if (error instanceof RandomAccessError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const problem = `zstd decoding failed in the span from compressed offset ${start}`;
  const position = { uncompressedOffset: verifier.uncompressedOffset };
  return corruptDataError(streamName, `${problem}: ${reason}`, position, error);
}
