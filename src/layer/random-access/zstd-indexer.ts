import { Duplex } from "node:stream";

import { createZstdDecompressor } from "../zstd-decompressor.js";
import { ByteReader } from "./byte-reader.js";
import { pumpThrough } from "./chunk-streams.js";
import { crc32 } from "./crc32.js";
import type { IndexerOptions } from "./gzip-indexer.js";
import { iteratorOf } from "./range-checks.js";
import { corruptDataError, RandomAccessError } from "./random-access-errors.js";
import { isSkippableFrameNext, readZstdFrame, type ZstdFrameInfo } from "./zstd-frame-parser.js";
import type { ZstdFrame, ZstdFrameIndex } from "./zstd-frame-index.js";

/** Compressed bytes written to a frame decoder at once, which bounds the output of one write. */
const DECODER_WRITE_SIZE = 16 * 1024;

/**
 * A zstd decompressing stream that records where each frame starts, in the
 * compressed and the uncompressed data, so that a later read can decode from
 * the frame containing its offset. Each frame is decoded by its own decoder
 * (see zstd-decompressor.ts), which is how the uncompressed frame sizes are
 * known even when frame headers leave out Frame_Content_Size. Once the
 * stream has ended, index() returns the frames.
 */
export class ZstdFrameIndexer {
  readonly stream: Duplex;
  private readonly streamName: string;
  private readonly frames: ZstdFrame[] = [];
  private uncompressedSize = 0;
  private result: ZstdFrameIndex | undefined;

  constructor(options: IndexerOptions = {}) {
    this.streamName = options.streamName ?? "zstd stream";
    this.stream = Duplex.from((source: AsyncIterable<Uint8Array>) => this.run(source));
  }

  /** Returns the finished index. Throws when the stream has not ended successfully. */
  index(): ZstdFrameIndex {
    if (!this.result) throw new Error(`${this.streamName}: the zstd index is not finished`);
    return this.result;
  }

  private async *run(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const reader = new ByteReader(source, this.streamName);
    while (!(await reader.atEnd())) {
      if (await isSkippableFrameNext(reader)) await this.skipFrame(reader);
      else yield* this.decodeFrame(reader);
    }
    const { frames, uncompressedSize } = this;
    this.result = { compressedSize: reader.position, uncompressedSize, frames };
  }

  private async skipFrame(reader: ByteReader): Promise<void> {
    const info: ZstdFrameInfo = { skippable: true, contentSize: undefined };
    for await (const _ of readZstdFrame(reader, this.streamName, info));
  }

  private async *decodeFrame(reader: ByteReader): AsyncGenerator<Buffer> {
    const compressedOffset = reader.position;
    const uncompressedOffset = this.uncompressedSize;
    const info: ZstdFrameInfo = { skippable: false, contentSize: undefined };
    const input = iteratorOf(readZstdFrame(reader, this.streamName, info, DECODER_WRITE_SIZE));
    let crc = 0;
    try {
      for await (const chunk of pumpThrough(input, createZstdDecompressor())) {
        crc = crc32(chunk, crc);
        this.uncompressedSize += chunk.length;
        yield chunk;
      }
    } catch (error) {
      throw this.decodeError(error, compressedOffset);
    }
    this.checkFrame(info, compressedOffset, this.uncompressedSize - uncompressedOffset);
    if (this.uncompressedSize > uncompressedOffset) {
      this.frames.push({ compressedOffset, uncompressedOffset, crc });
    }
  }

  private checkFrame(info: ZstdFrameInfo, compressedOffset: number, length: number): void {
    if (info.contentSize === undefined || info.contentSize === length) return;
    const problem = `zstd frame declares ${info.contentSize} bytes but decodes to ${length}`;
    throw corruptDataError(this.streamName, problem, { compressedOffset });
  }

  private decodeError(error: unknown, compressedOffset: number): unknown {
    if (error instanceof RandomAccessError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    const position = { compressedOffset, uncompressedOffset: this.uncompressedSize };
    return corruptDataError(this.streamName, `zstd decoding failed: ${reason}`, position, error);
  }
}
