import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import {
  COMPRESSION_MAGIC_LENGTH,
  createDecompressor,
  detectCompression,
  peekStreamHead,
  type Compression,
} from "./compression.js";
import { endWritable, IndexingSink } from "./indexing-sink.js";
import {
  createIndexingDecompressor,
  type IndexingDecompressor,
  type RandomAccessIndex,
} from "./random-access/index.js";
import { invalidLayerError } from "./layer-errors.js";
import {
  LAYER_INDEX_VERSION,
  type LayerEntry,
  type TarLayerIndex,
  type TarLayerSummary,
} from "./layer-index.js";
import { resolveLayerLimits, type LayerLimits } from "./layer-limits.js";
import { layerRecordOf } from "./layer-record.js";
import { TarScanner } from "./tar-scanner.js";

export interface IndexLayerOptions {
  /** Digest of the compressed blob; it names the layer in errors and in the index. */
  digest: string;
  /**
   * Receives the whole uncompressed tar, so file contents can later be read
   * by offset. It is ended, and flushed, before the returned promise
   * resolves. After a failure it is left as it is for the caller to discard.
   */
  writeUncompressed?: Writable;
  /** Overrides for the defaults in layer-limits.ts. */
  limits?: Partial<LayerLimits>;
  /**
   * Receives, after a successful pass, the points where decoding can later
   * resume (random-access/), so file contents can be read by ranges of the
   * compressed blob instead of from a copy of the uncompressed tar.
   */
  onRandomAccessIndex?: (index: RandomAccessIndex) => void;
  /**
   * The blob's size from its descriptor, when known. With onRandomAccessIndex,
   * a smaller gzip blob than MIN_WORKER_BLOB_SIZE is indexed on the calling
   * thread, because starting a worker would take longer than it saves.
   */
  expectedCompressedSize?: number;
}

/** Receives a pass's entries in tar order, as the pass finds them. */
export interface LayerEntrySink {
  add(entry: LayerEntry): void;
  /**
   * Resolves when the sink can take more entries. The pass waits for it
   * after each chunk of the tar, so entries never pile up in memory.
   */
  drained(): Promise<void>;
}

export interface PassLayerOptions extends IndexLayerOptions {
  entries: LayerEntrySink;
}

/**
 * Indexes a layer blob and keeps its entries in memory, in tar order. For
 * tests and small layers: the cache uses passLayer, which hands each entry
 * on instead.
 */
export async function indexLayer(compressed: Readable, options: IndexLayerOptions): Promise<TarLayerIndex> {
  const entries: LayerEntry[] = [];
  const sink = { add: (entry: LayerEntry) => void entries.push(entry), drained: () => Promise.resolve() };
  const summary = await passLayer(compressed, { ...options, entries: sink });
  return { ...summary, entries };
}

/**
 * Indexes a layer blob in one streaming pass: detects and undoes its
 * compression, hashes the uncompressed tar for the diff ID, and hands every
 * entry, with the offset of its content, to `options.entries`. File content
 * is never buffered, so memory contains the whiteouts and opaque markers, one
 * header or PAX header, and the stream buffers.
 *
 * Throws RegdavError INVALID_LAYER for a corrupt or over-limit layer. Errors
 * of `compressed` (such as DIGEST_MISMATCH) and of `writeUncompressed` are
 * passed on unchanged.
 */
export async function passLayer(
  compressed: Readable,
  options: PassLayerOptions,
): Promise<TarLayerSummary> {
  const started = performance.now();
  const limits = resolveLayerLimits(options.limits);
  const { head, stream } = await peekStreamHead(compressed, COMPRESSION_MAGIC_LENGTH);
  const compression = detectCompression(head);

  const indexing = options.onRandomAccessIndex
    ? createIndexingDecompressor(compression, {
        streamName: `layer ${options.digest}`,
        expectedSize: options.expectedCompressedSize,
      })
    : undefined;
  const whiteouts = new Set<string>();
  const opaqueDirectories = new Set<string>();
  let entryCount = 0;
  const scanner = new TarScanner(
    (member) => {
      const record = layerRecordOf(member);
      if (record?.kind === "whiteout") whiteouts.add(record.path);
      if (record?.kind === "opaque") opaqueDirectories.add(record.directory);
      if (record?.kind !== "entry") return;
      entryCount++;
      options.entries.add(record.entry);
    },
    options.digest,
    limits,
  );
  const sink = new IndexingSink(scanner, {
    digest: options.digest,
    maxUncompressedSize: limits.maxUncompressedSize,
    copy: options.writeUncompressed,
    hash: indexing?.outputDigest === undefined,
    entries: options.entries,
  });
  const { compressedSize } = await runPipeline(stream, compression, sink, indexing, options);

  const index: TarLayerSummary = {
    version: LAYER_INDEX_VERSION,
    digest: options.digest,
    diffId: indexing?.outputDigest?.() ?? sink.diffId(),
    compression,
    compressedSize,
    uncompressedSize: sink.uncompressedSize,
    entryCount,
    whiteouts: [...whiteouts],
    opaqueDirectories: [...opaqueDirectories],
  };
  logPass(index, started, indexing?.onWorkerThread ?? false);
  return index;
}

/**
 * Runs source, decompressor and sink: the indexing decompressor when there
 * is one, else a plain one. Returns the compressed byte count.
 */
async function runPipeline(
  source: Readable,
  compression: Compression,
  sink: IndexingSink,
  indexing: IndexingDecompressor | undefined,
  options: PassLayerOptions,
): Promise<{ compressedSize: number }> {
  const decompressor = indexing?.stream ?? createDecompressor(compression);
  // pipeline destroys every stream with the first error, so the stream that
  // emits "error" first is the one that failed.
  let failedFirst: "source" | "decompressor" | "sink" | undefined;
  source.once("error", () => (failedFirst ??= "source"));
  decompressor.once("error", () => (failedFirst ??= "decompressor"));
  sink.once("error", () => (failedFirst ??= "sink"));
  let compressedSize = 0;
  const countCompressed = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      compressedSize += chunk.length;
      yield chunk;
    }
  };

  const copy = options.writeUncompressed;
  const failOnCopyError = (error: Error) => sink.destroy(error);
  copy?.on("error", failOnCopyError);
  try {
    await pipeline(source, countCompressed, decompressor, sink);
    if (copy) await endWritable(copy);
    if (indexing) options.onRandomAccessIndex?.(indexing.index());
  } catch (error) {
    if (failedFirst !== "decompressor") throw error;
    throw decompressionError(options.digest, compression, error);
  } finally {
    copy?.off("error", failOnCopyError);
  }
  return { compressedSize };
}

function decompressionError(digest: string, compression: Compression, error: unknown): unknown {
  if (error instanceof RegdavError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const problem = `${compression} decompression failed: ${reason}`;
  return invalidLayerError(digest, problem, { cause: error });
}

function logPass(index: TarLayerSummary, started: number, onWorkerThread: boolean): void {
  const seconds = (performance.now() - started) / 1000;
  const mebibytes = index.uncompressedSize / 2 ** 20;
  log.debug("layer tar indexed", {
    digest: index.digest,
    compression: index.compression,
    thread: onWorkerThread ? "worker" : "main",
    compressed: index.compressedSize,
    uncompressed: index.uncompressedSize,
    entries: index.entryCount,
    seconds: Number(seconds.toFixed(3)),
    mibPerSecond: seconds > 0 ? Number((mebibytes / seconds).toFixed(1)) : undefined,
  });
}
