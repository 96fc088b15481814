import { crc32 } from "./crc32.js";
import { corruptDataError } from "./random-access-errors.js";

/** A stretch of uncompressed data whose CRC-32 the index stores. */
export interface CheckedInterval {
  start: number;
  end: number;
  /** CRC-32 of the data before `start` that the stored value also covers (0 for none). */
  crcSeed: number;
  expectedCrc: number;
}

/**
 * Follows the uncompressed output of a span, which starts at the first
 * interval's start. It returns the part of each chunk that lies inside the
 * requested range and checks every interval's CRC-32 once the interval is
 * complete, throwing on a mismatch.
 */
export class SpanVerifier {
  private position: number;
  private current = 0;
  private crc: number;

  constructor(
    private readonly intervals: readonly CheckedInterval[],
    private readonly rangeStart: number,
    private readonly rangeEnd: number,
    private readonly streamName: string,
  ) {
    this.position = intervals[0]!.start;
    this.crc = intervals[0]!.crcSeed;
    this.checkCompletedIntervals();
  }

  /** Uncompressed offset of the next byte expected. */
  get uncompressedOffset(): number {
    return this.position;
  }

  /**
   * Checks a chunk of output and returns its part inside the requested
   * range, if any. Output past the last interval is counted, not checked: an
   * inflater fed up to a block boundary may decode a few bytes of the next block.
   */
  accept(chunk: Buffer): Buffer | undefined {
    const chunkStart = this.position;
    let used = 0;
    while (used < chunk.length && this.current < this.intervals.length) {
      const interval = this.intervals[this.current]!;
      const take = Math.min(chunk.length - used, interval.end - this.position);
      this.crc = crc32(chunk.subarray(used, used + take), this.crc);
      used += take;
      this.position += take;
      this.checkCompletedIntervals();
    }
    this.position = chunkStart + chunk.length;
    return this.slice(chunk, chunkStart);
  }

  /** Throws unless the output so far ends exactly at `offset`, as it must at a member's end. */
  expectEndAt(offset: number): void {
    if (this.position !== offset) throw this.endError(offset);
  }

  /** Throws unless the output has reached `offset`. */
  expectReached(offset: number): void {
    if (this.position < offset) throw this.endError(offset);
  }

  private slice(chunk: Buffer, chunkStart: number): Buffer | undefined {
    const from = Math.max(0, this.rangeStart - chunkStart);
    const to = Math.min(chunk.length, this.rangeEnd - chunkStart);
    return to > from ? chunk.subarray(from, to) : undefined;
  }

  /** Checks and leaves every interval that ends at the current position. */
  private checkCompletedIntervals(): void {
    for (;;) {
      const interval = this.intervals[this.current];
      if (!interval || interval.end > this.position) return;
      if (this.crc !== interval.expectedCrc) {
        throw this.error(`CRC-32 mismatch in the data from uncompressed offset ${interval.start}`);
      }
      this.current++;
      const next = this.intervals[this.current];
      if (next) this.crc = next.crcSeed;
    }
  }

  private endError(expected: number) {
    const problem = `inflated data ends at uncompressed offset ${this.position}`;
    return this.error(`${problem}, expected ${expected}`);
  }

  private error(problem: string) {
    return corruptDataError(this.streamName, problem, { uncompressedOffset: this.position });
  }
}
