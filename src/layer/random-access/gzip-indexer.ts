import { Duplex } from "node:stream";

import { BlockInflater } from "./block-inflater.js";
import { ByteReader } from "./byte-reader.js";
import { CheckpointRecorder } from "./checkpoint-recorder.js";
import { DEFAULT_CHECKPOINT_SPACING, type GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import { hasAnotherMember, readGzipHeader, readGzipTrailer } from "./gzip-member.js";
import { corruptDataError } from "./random-access-errors.js";

export interface IndexerOptions {
  /** Names the stream in error messages, such as `layer sha256:...`. */
  streamName?: string;
}

export interface GzipIndexerOptions extends IndexerOptions {
  /** Uncompressed bytes between checkpoints; each member start adds one as well. */
  spacing?: number;
}

/** Uncompressed bytes the pass collects before it passes them on. */
const OUTPUT_BATCH_SIZE = 256 * 1024;

/**
 * A gunzip stream that records a GzipCheckpointIndex as it goes. Write the
 * compressed blob to `stream` and read the uncompressed data from it, as
 * with zlib.createGunzip(). It reads every member of a multi-member file and
 * checks each member's CRC-32 and length. Once the stream has ended,
 * index() returns the checkpoints.
 */
export class GzipCheckpointIndexer {
  readonly stream: Duplex;
  private result: GzipCheckpointIndex | undefined;
  private readonly streamName: string;
  private readonly recorder: CheckpointRecorder;

  constructor(options: GzipIndexerOptions = {}) {
    const spacing = options.spacing ?? DEFAULT_CHECKPOINT_SPACING;
    if (!Number.isSafeInteger(spacing) || spacing < 1) {
      throw new RangeError(`invalid checkpoint spacing ${spacing}: expected a positive integer`);
    }
    this.streamName = options.streamName ?? "gzip stream";
    this.recorder = new CheckpointRecorder(spacing, this.streamName);
    this.stream = Duplex.from((source: AsyncIterable<Uint8Array>) => this.run(source));
  }

  /** Returns the finished index. Throws when the stream has not ended successfully. */
  index(): GzipCheckpointIndex {
    if (!this.result) throw new Error(`${this.streamName}: the gzip index is not finished`);
    return this.result;
  }

  private async *run(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const reader = new ByteReader(source, this.streamName);
    do {
      await readGzipHeader(reader, this.streamName);
      this.recorder.startMember(reader.position);
      yield* this.inflateMember(reader);
      const trailerOffset = reader.position;
      this.recorder.endMember(await readGzipTrailer(reader), trailerOffset);
    } while (await hasAnotherMember(reader, this.streamName));
    this.result = this.recorder.build(reader.position);
  }

  /** Inflates one member's deflate data, leaving the reader at its trailer. */
  private async *inflateMember(reader: ByteReader): AsyncGenerator<Buffer> {
    const inflater = new BlockInflater();
    try {
      for (;;) {
        const chunk = await reader.readChunk();
        if (!chunk) throw reader.truncatedError("gzip deflate data");
        inflater.setInput(chunk);
        const ended = yield* this.inflateChunk(inflater, reader.position - chunk.length, chunk);
        yield* inflater.takeOutput();
        if (ended) {
          reader.unread(chunk.subarray(chunk.length - inflater.availableInput));
          return;
        }
      }
    } finally {
      inflater.end();
    }
  }

  /** Inflates all of one input chunk; returns true when the deflate stream ended inside it. */
  private *inflateChunk(inflater: BlockInflater, chunkOffset: number, chunk: Buffer) {
    for (;;) {
      const step = this.stepOrThrow(inflater, chunkOffset + chunk.length);
      this.recorder.addOutput(inflater.lastStepOutput());
      if (step.streamEnd) return true;
      if (inflater.pendingOutputBytes >= OUTPUT_BATCH_SIZE) yield* inflater.takeOutput();

      const consumed = chunkOffset + chunk.length - inflater.availableInput;
      if (step.atBlockBoundary) this.recorder.atBlockBoundary(consumed * 8 - step.unusedBits);
      else if (inflater.availableInput === 0) return false;
    }
  }

  private stepOrThrow(inflater: BlockInflater, chunkEnd: number) {
    try {
      return inflater.step();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const position = {
        compressedOffset: chunkEnd - inflater.availableInput,
        uncompressedOffset: this.recorder.uncompressedSize,
      };
      throw corruptDataError(this.streamName, `invalid deflate data: ${reason}`, position, error);
    }
  }
}
