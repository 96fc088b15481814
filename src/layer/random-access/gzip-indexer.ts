import { Duplex } from "node:stream";

import { createBlockInflater, fastestBlockInflater, type BlockInflater, type BlockInflaterKind } from "./block-inflater.js";
import { ByteReader } from "./byte-reader.js";
import { CheckpointRecorder } from "./checkpoint-recorder.js";
import { DEFAULT_CHECKPOINT_SPACING, type GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import {
  hasAnotherMember,
  readGzipHeader,
  readGzipTrailer,
  type GzipTrailer,
} from "./gzip-member.js";
import { corruptDataError } from "./random-access-errors.js";

export interface IndexerOptions {
  /** Names the stream in error messages, such as `layer sha256:...`. */
  streamName?: string;
}

export interface GzipIndexerOptions extends IndexerOptions {
  /** Uncompressed bytes between checkpoints; each member start adds one as well. */
  spacing?: number;
  /** The inflater of the pass: by default Node's zlib where it can report block boundaries, else pako. */
  inflater?: BlockInflaterKind;
}

/** Settings of one gzip indexing pass, with the defaults filled in. */
export interface GzipPassSettings {
  spacing: number;
  inflater: BlockInflaterKind;
  streamName: string;
  /** Bytes of each buffer that inflated data is written into. */
  outputBufferSize: number;
  /**
   * When true, every yielded Buffer is a whole ArrayBuffer (byteOffset 0)
   * that the pass never writes again, so it can be transferred to another
   * thread. Output is then passed on only when a buffer is full or a member
   * ends.
   */
  wholeOutputBuffers: boolean;
}

/**
 * The events of a gzip pass, in stream order: member starts and ends, the
 * uncompressed output and every block boundary. CheckpointRecorder builds
 * the index from them.
 */
export interface GzipPassEvents {
  /** Bytes of uncompressed output so far. */
  readonly uncompressedSize: number;
  /** Uncompressed offset of the last checkpoint recorded, a member start included. */
  readonly lastCheckpointOffset: number;
  startMember(compressedOffset: number): void;
  addOutput(chunk: Buffer): void;
  /** Called at every block boundary; it records a checkpoint when one is due. */
  atBlockBoundary(compressedBitOffset: number): void;
  endMember(trailer: GzipTrailer, trailerOffset: number): void;
}

/** Uncompressed bytes the pass collects before it passes them on. */
const OUTPUT_BATCH_SIZE = 256 * 1024;
/**
 * Smallest input chunk for NativeBlockInflater. It detects a block boundary
 * only where inflate() stops with input left, so with tiny chunks it would
 * miss most of them.
 */
const NATIVE_MIN_INPUT = 64 * 1024;

/** Fills in the defaults and checks the options. Throws RangeError for an invalid spacing. */
export function resolveGzipPassSettings(
  options: GzipIndexerOptions,
  output: Partial<Pick<GzipPassSettings, "outputBufferSize" | "wholeOutputBuffers">> = {},
): GzipPassSettings {
  const spacing = options.spacing ?? DEFAULT_CHECKPOINT_SPACING;
  if (!Number.isSafeInteger(spacing) || spacing < 1) {
    throw new RangeError(`invalid checkpoint spacing ${spacing}: expected a positive integer`);
  }
  return {
    spacing,
    inflater: options.inflater ?? fastestBlockInflater(),
    streamName: options.streamName ?? "gzip stream",
    outputBufferSize: output.outputBufferSize ?? OUTPUT_BATCH_SIZE,
    wholeOutputBuffers: output.wholeOutputBuffers ?? false,
  };
}

/**
 * A gunzip stream that records a GzipCheckpointIndex as it goes. Write the
 * compressed blob to `stream` and read the uncompressed data from it, as
 * with zlib.createGunzip(). It reads every member of a multi-member file and
 * checks each member's CRC-32 and length. Once the stream has ended,
 * index() returns the checkpoints. It runs on the calling thread; see
 * WorkerGzipIndexer for the same pass on a worker thread.
 */
export class GzipCheckpointIndexer {
  readonly stream: Duplex;
  private result: GzipCheckpointIndex | undefined;
  private readonly settings: GzipPassSettings;

  constructor(options: GzipIndexerOptions = {}) {
    this.settings = resolveGzipPassSettings(options);
    this.stream = Duplex.from((source: AsyncIterable<Uint8Array>) => this.run(source));
  }

  /** Returns the finished index. Throws when the stream has not ended successfully. */
  index(): GzipCheckpointIndex {
    if (!this.result) throw unfinishedIndexError(this.settings.streamName);
    return this.result;
  }

  private async *run(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const recorder = new CheckpointRecorder(this.settings.spacing, this.settings.streamName);
    const compressedSize = yield* inflateGzipChunks(source, this.settings, recorder);
    this.result = recorder.build(compressedSize);
  }
}

/** Creates the error of index() before the pass has ended successfully. */
export function unfinishedIndexError(streamName: string): Error {
  return new Error(`${streamName}: the gzip index is not finished`);
}

/**
 * Inflates a whole gzip blob, every member of it, yields the uncompressed
 * data and reports the pass to `events`. Returns the compressed size once
 * the blob has ended. Throws RandomAccessError INVALID_LAYER for corrupt or
 * truncated data, and passes on what `events` throws.
 */
export async function* inflateGzipChunks(
  source: AsyncIterable<Uint8Array>,
  settings: GzipPassSettings,
  events: GzipPassEvents,
): AsyncGenerator<Buffer, number> {
  const pass = new GzipPass(settings, events);
  const reader = new ByteReader(source, settings.streamName);
  do {
    await readGzipHeader(reader, settings.streamName);
    events.startMember(reader.position);
    yield* pass.inflateMember(reader);
    const trailerOffset = reader.position;
    events.endMember(await readGzipTrailer(reader), trailerOffset);
  } while (await hasAnotherMember(reader, settings.streamName));
  return reader.position;
}

/** The inflating part of one indexing pass. */
class GzipPass {
  constructor(
    private readonly settings: GzipPassSettings,
    private readonly events: GzipPassEvents,
  ) {}

  /** Inflates one member's deflate data, leaving the reader at its trailer. */
  async *inflateMember(reader: ByteReader): AsyncGenerator<Buffer> {
    const inflater = createBlockInflater(this.settings.inflater, this.settings.outputBufferSize);
    try {
      const minInput = this.settings.inflater === "native" ? NATIVE_MIN_INPUT : 1;
      for (;;) {
        const chunk = await reader.readAtLeast(minInput);
        if (!chunk) throw reader.truncatedError("gzip deflate data");
        inflater.setInput(chunk);
        const ended = yield* this.inflateChunk(inflater, reader.position - chunk.length, chunk);
        if (ended) {
          yield* inflater.takeOutput(true);
          reader.unread(chunk.subarray(chunk.length - inflater.availableInput));
          return;
        }
        yield* inflater.takeOutput(!this.settings.wholeOutputBuffers);
      }
    } finally {
      inflater.end();
    }
  }

  /** Inflates all of one input chunk; returns true when the deflate stream ended inside it. */
  private *inflateChunk(inflater: BlockInflater, chunkOffset: number, chunk: Buffer) {
    const takePartial = !this.settings.wholeOutputBuffers;
    for (;;) {
      const bytesUntilDue = this.events.lastCheckpointOffset + this.settings.spacing - this.events.uncompressedSize;
      const step = this.stepOrThrow(inflater, chunkOffset + chunk.length, bytesUntilDue);
      this.events.addOutput(inflater.lastStepOutput());
      if (step.streamEnd) return true;
      if (inflater.pendingOutputBytes >= OUTPUT_BATCH_SIZE) yield* inflater.takeOutput(takePartial);

      if (step.boundaryBitOffset !== undefined) this.events.atBlockBoundary(chunkOffset * 8 + step.boundaryBitOffset);
      else if (inflater.availableInput === 0 && inflater.lastStepOutput().length === 0) return false;
    }
  }

  private stepOrThrow(inflater: BlockInflater, chunkEnd: number, bytesUntilDue: number) {
    try {
      return inflater.step(bytesUntilDue);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const position = {
        compressedOffset: chunkEnd - inflater.availableInput,
        uncompressedOffset: this.events.uncompressedSize,
      };
      const problem = `invalid deflate data: ${reason}`;
      throw corruptDataError(this.settings.streamName, problem, position, error);
    }
  }
}
