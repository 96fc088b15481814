/**
 * Random access to the uncompressed data of a compressed layer blob.
 *
 * One streaming pass (createIndexingDecompressor, in place of the plain
 * decompressor) records where decoding can resume: gzip checkpoints at
 * deflate block boundaries, with the 32 KiB window before each, or the
 * start of each zstd frame. Later, readUncompressedRange fetches only the
 * compressed bytes between two such points, with one ranged read, and
 * streams the requested bytes.
 *
 * Every read decodes whole intervals between access points and checks each
 * against a CRC-32 that the pass stored, so damaged compressed bytes end the
 * stream with an INVALID_LAYER error rather than wrong data. The error can
 * arrive after some of the range's bytes were passed on, so a consumer must
 * discard what it read from a failed stream.
 */
import { Readable, Transform, type Duplex } from "node:stream";

import type { Compression } from "../compression.js";
import { ByteReader } from "./byte-reader.js";
import { readBytes } from "./chunk-streams.js";
import type { FetchCompressed, ReadRangeOptions } from "./fetch-compressed.js";
import { GzipCheckpointIndexer, type GzipIndexerOptions } from "./gzip-indexer.js";
import { readGzipRange } from "./gzip-range-reader.js";
import { checkReadRange, expectFetchEnd } from "./range-checks.js";
import type { RandomAccessIndex } from "./random-access-index.js";
import { isIndexWorkerAvailable } from "./index-worker-pool.js";
import { WorkerGzipIndexer } from "./worker-gzip-indexer.js";
import { ZstdFrameIndexer } from "./zstd-indexer.js";
import { readZstdRange } from "./zstd-range-reader.js";

export type { FetchCompressed, ReadRangeOptions } from "./fetch-compressed.js";
export type { GzipIndexerOptions, IndexerOptions } from "./gzip-indexer.js";
export { GzipCheckpointIndexer } from "./gzip-indexer.js";
export { isIndexWorkerAvailable, MAX_INDEX_WORKERS, runningIndexWorkers } from "./index-worker-pool.js";
export { WorkerGzipIndexer } from "./worker-gzip-indexer.js";
export { ZstdFrameIndexer } from "./zstd-indexer.js";
export { readGzipRange } from "./gzip-range-reader.js";
export { readZstdRange } from "./zstd-range-reader.js";
export * from "./gzip-checkpoint-index.js";
export * from "./zstd-frame-index.js";
export * from "./random-access-index.js";
export * from "./random-access-format.js";
export { RandomAccessError } from "./random-access-errors.js";

/** A decompressing stream for the layer pass that also builds a RandomAccessIndex. */
export interface IndexingDecompressor {
  /** Write the compressed blob, read the uncompressed data. */
  stream: Duplex;
  /** Returns the index once `stream` has ended, and throws before that. */
  index(): RandomAccessIndex;
  /** True when the decompression runs on a worker thread. */
  onWorkerThread: boolean;
  /**
   * Returns the `sha256:<hex>` of the uncompressed output once `stream` has
   * ended, when the decompressor computes it (on a worker thread), so the
   * caller need not hash the output again. Absent otherwise.
   */
  outputDigest?: () => string;
}

export interface IndexingDecompressorOptions extends GzipIndexerOptions {
  /**
   * Whether a gzip pass may run on an index worker (default true). It runs on
   * the calling thread when this is false, when expectedSize is below
   * MIN_WORKER_BLOB_SIZE or when isIndexWorkerAvailable() returns false.
   */
  useWorker?: boolean;
  /** Compressed size of the blob, when known. */
  expectedSize?: number | undefined;
}

/**
 * Smallest gzip blob indexed on a worker thread. A new worker starts with a
 * cold JIT. On a loaded 2-core machine, a 15 MiB blob took 0.44 s on a new
 * worker and 0.33 s inline once pako's code was optimized. Only larger
 * blobs gain from inflating beside the main thread.
 * NOTE: an estimate from that one machine, measured while the pass inflated
 * with pako. Node's zlib inflates several times faster, and the value
 * was not measured again since.
 */
export const MIN_WORKER_BLOB_SIZE = 32 * 1024 * 1024;

/**
 * Creates the decompressor for one layer pass, in place of
 * createDecompressor() from compression.ts, that records where later reads
 * can start decoding. Both threads give the same output, index and errors.
 */
export function createIndexingDecompressor(
  compression: Compression,
  options: IndexingDecompressorOptions = {},
): IndexingDecompressor {
  const { useWorker = true, expectedSize, ...indexerOptions } = options;
  switch (compression) {
    case "gzip": {
      const largeEnough = expectedSize === undefined || expectedSize >= MIN_WORKER_BLOB_SIZE;
      if (useWorker && largeEnough && isIndexWorkerAvailable()) {
        const indexer = new WorkerGzipIndexer(indexerOptions);
        const index = (): RandomAccessIndex => ({ kind: "gzip", ...indexer.index() });
        return { stream: indexer.stream, index, onWorkerThread: true, outputDigest: () => indexer.outputDigest() };
      }
      const indexer = new GzipCheckpointIndexer(indexerOptions);
      const index = (): RandomAccessIndex => ({ kind: "gzip", ...indexer.index() });
      return { stream: indexer.stream, index, onWorkerThread: false };
    }
    case "zstd": {
      const indexer = new ZstdFrameIndexer(indexerOptions);
      const index = (): RandomAccessIndex => ({ kind: "zstd", ...indexer.index() });
      return { stream: indexer.stream, index, onWorkerThread: false };
    }
    case "none":
      return countingPassThrough();
  }
}

/**
 * Opens the uncompressed bytes [offset, offset + length) of a layer blob,
 * fetching only the compressed bytes that contain them. See readGzipRange and
 * readZstdRange for what each checks.
 */
export function readUncompressedRange(
  index: RandomAccessIndex,
  fetchCompressed: FetchCompressed,
  offset: number,
  length: number,
  options: ReadRangeOptions = {},
): Readable {
  switch (index.kind) {
    case "gzip":
      return readGzipRange(index, fetchCompressed, offset, length, options);
    case "zstd":
      return readZstdRange(index, fetchCompressed, offset, length, options);
    case "none":
      return readPlainRange(index.uncompressedSize, fetchCompressed, offset, length, options);
  }
}

function countingPassThrough(): IndexingDecompressor {
  let size = 0;
  let flushed = false;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      flushed = true;
      callback();
    },
  });
  const index = (): RandomAccessIndex => {
    if (!flushed) throw new Error("the uncompressed layer's index is not finished");
    return { kind: "none", compressedSize: size, uncompressedSize: size };
  };
  return { stream, index, onWorkerThread: false };
}

function readPlainRange(
  size: number,
  fetchCompressed: FetchCompressed,
  offset: number,
  length: number,
  options: ReadRangeOptions,
): Readable {
  const streamName = options.streamName ?? "uncompressed stream";
  checkReadRange(streamName, offset, length, size);
  if (length === 0) return Readable.from([]);
  const end = offset + length - 1;
  async function* copyRange(): AsyncGenerator<Buffer> {
    const reader = new ByteReader(await fetchCompressed(offset, end), streamName, offset);
    try {
      yield* readBytes(reader, length, "the requested range");
      await expectFetchEnd(reader, offset, end, streamName);
    } finally {
      await reader.close();
    }
  }
  return Readable.from(copyRange(), { objectMode: false });
}
