import { deflateRawSync } from "node:zlib";

import { crc32 } from "./crc32.js";
import {
  DEFLATE_WINDOW_SIZE,
  type GzipCheckpoint,
  type GzipCheckpointIndex,
} from "./gzip-checkpoint-index.js";
import type { GzipTrailer } from "./gzip-member.js";
import { OutputTail } from "./output-tail.js";
import { corruptDataError } from "./random-access-errors.js";

/**
 * Builds a GzipCheckpointIndex from the events of one pass: member starts,
 * uncompressed output and block boundaries. It keeps the member's CRC-32,
 * and its last 32 KiB once the next checkpoint is near enough to need them,
 * and checks each member against its trailer. With `copyOutput`, those last
 * bytes are copied, so the output buffers can be transferred once passed on.
 */
export class CheckpointRecorder {
  private readonly checkpoints: GzipCheckpoint[] = [];
  private readonly tail: OutputTail;
  private uncompressedOffset = 0;
  private memberStartOffset = 0;
  private memberCrc = 0;

  constructor(
    private readonly spacing: number,
    private readonly streamName: string,
    options: { copyOutput?: boolean } = {},
  ) {
    this.tail = new OutputTail(DEFLATE_WINDOW_SIZE, options.copyOutput ?? false);
  }

  /** Bytes of uncompressed output so far. */
  get uncompressedSize(): number {
    return this.uncompressedOffset;
  }

  get lastCheckpointOffset(): number {
    return this.checkpoints.at(-1)?.uncompressedOffset ?? 0;
  }

  /** Records the checkpoint at a member's first block, which starts at a byte boundary. */
  startMember(compressedOffset: number): void {
    this.closeInterval();
    this.tail.clear();
    this.memberStartOffset = this.uncompressedOffset;
    this.memberCrc = 0;
    this.push(compressedOffset * 8, true, Buffer.alloc(0));
  }

  addOutput(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.memberCrc = crc32(chunk, this.memberCrc);
    // The next checkpoint comes at least `spacing` bytes after the last one,
    // so its window lies after this point. Earlier bytes are not kept, and
    // the tail drops the chunks it has from before the last checkpoint.
    const windowsStart = this.lastCheckpointOffset + this.spacing - DEFLATE_WINDOW_SIZE;
    if (this.uncompressedOffset + chunk.length > windowsStart) this.tail.add(chunk);
    else this.tail.clear();
    this.uncompressedOffset += chunk.length;
  }

  /** Records a checkpoint at this block boundary when the last one is `spacing` bytes back. */
  atBlockBoundary(compressedBitOffset: number): void {
    const last = this.checkpoints[this.checkpoints.length - 1]!;
    if (this.uncompressedOffset - last.uncompressedOffset < this.spacing) return;
    this.closeInterval();
    this.push(compressedBitOffset, false, deflateRawSync(this.tail.snapshot()));
  }

  /** Checks the member's data against its trailer, found at compressed offset `trailerOffset`. */
  endMember(trailer: GzipTrailer, trailerOffset: number): void {
    const length = this.uncompressedOffset - this.memberStartOffset;
    const position = {
      compressedOffset: trailerOffset,
      uncompressedOffset: this.uncompressedOffset,
    };
    if (trailer.crc !== this.memberCrc) {
      const problem =
        `gzip member CRC mismatch: trailer has ${hex(trailer.crc)}, ` +
        `data has ${hex(this.memberCrc)}`;
      throw corruptDataError(this.streamName, problem, position);
    }
    if (trailer.isize !== length % 2 ** 32) {
      const problem =
        `gzip member length mismatch: trailer has ${trailer.isize}, ` +
        `data has ${length} bytes`;
      throw corruptDataError(this.streamName, problem, position);
    }
  }

  build(compressedSize: number): GzipCheckpointIndex {
    this.closeInterval();
    return {
      compressedSize,
      uncompressedSize: this.uncompressedOffset,
      spacing: this.spacing,
      checkpoints: this.checkpoints,
    };
  }

  private push(compressedBitOffset: number, memberStart: boolean, window: Buffer): void {
    const uncompressedOffset = this.uncompressedOffset;
    const checkpoint = { uncompressedOffset, compressedBitOffset, memberStart, window, endCrc: 0 };
    this.checkpoints.push(checkpoint);
  }

  /** Stores the member CRC so far as the end CRC of the open interval. */
  private closeInterval(): void {
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last) last.endCrc = this.memberCrc;
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
