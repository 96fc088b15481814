import { LRUCache } from "lru-cache";

import type { RandomAccessIndex } from "../layer/random-access/index.js";
import { lastAtOrBefore } from "../layer/random-access/offset-search.js";
import { InFlight } from "./in-flight.js";

/** One stretch of a layer's uncompressed tar between two places where decoding can start. */
export interface AccessInterval {
  start: number;
  end: number;
}

/** Places where decoding can start that are not a RandomAccessIndex, such as the checkpoints of a SOCI zTOC. */
export interface AccessPoints {
  kind: "points";
  points: readonly { uncompressedOffset: number }[];
  uncompressedSize: number;
}

/** Decodes one interval whole, checking its CRC-32; rejects on damaged bytes. */
export type IntervalDecoder = (interval: AccessInterval) => Promise<Buffer>;

/**
 * Intervals longer than this are not kept, so one entry never takes more
 * than a small part of the memory bound. gzip checkpoints are about 4 MiB
 * apart, so their intervals fit.
 */
const MAX_CACHED_INTERVAL = 8 * 1024 * 1024;

/**
 * Keeps recently decoded intervals of compressed layers in memory. A read
 * of a small file from a gzip or multi-frame zstd layer decodes the whole
 * interval that contains it anyway, because each interval's CRC-32 is checked
 * before any byte is used, and the files a reader opens next (the rest of
 * a folder for `grep -r` or a file manager) usually lie in the same
 * interval. Only intervals that passed their check are kept.
 */
export class DecodedIntervals {
  private readonly cached: LRUCache<string, Buffer>;
  private readonly decoding = new InFlight<Buffer[]>();

  constructor(maxBytes: number) {
    this.cached = new LRUCache({ maxSize: maxBytes, sizeCalculation: (bytes) => Math.max(1, bytes.length) });
  }

  /**
   * Returns the bytes [offset, offset + length) of a layer's uncompressed tar,
   * or undefined when an interval they touch is too long to keep, so the
   * caller streams the range instead. `digest` keys the cache, so reads
   * through different access points of one layer must pass different keys.
   */
  async read(
    digest: string,
    index: RandomAccessIndex | AccessPoints,
    decode: IntervalDecoder,
    offset: number,
    length: number,
  ): Promise<Buffer | undefined> {
    const intervals = intervalsCovering(index, offset, length);
    // A range past the end is left to the caller's reader, which reports it.
    if (intervals === undefined || intervals.length === 0) return undefined;
    if (intervals.at(-1)!.end < offset + length) return undefined;
    if (intervals.some((interval) => interval.end - interval.start > MAX_CACHED_INTERVAL)) return undefined;

    const decoded = await this.intervalBytes(digest, intervals, decode);
    const parts = intervals.map((interval, i) => {
      const from = Math.max(offset, interval.start) - interval.start;
      const to = Math.min(offset + length, interval.end) - interval.start;
      return decoded[i]!.subarray(from, to);
    });
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Returns the decoded bytes of each interval, from memory or by decoding.
   * Each run of neighbouring intervals that are not in memory is decoded
   * with one call, so a read across a checkpoint still makes one fetch.
   */
  private async intervalBytes(
    digest: string,
    intervals: AccessInterval[],
    decode: IntervalDecoder,
  ): Promise<Buffer[]> {
    const found = intervals.map((interval) => this.cached.get(keyOf(digest, interval)));
    const pending: Promise<void>[] = [];
    let i = 0;
    while (i < intervals.length) {
      if (found[i]) {
        i++;
        continue;
      }
      let end = i + 1;
      while (end < intervals.length && !found[end]) end++;
      const run = intervals.slice(i, end);
      const first = i;
      pending.push(
        this.decodeRun(digest, run, decode).then((pieces) => {
          pieces.forEach((piece, j) => (found[first + j] = piece));
        }),
      );
      i = end;
    }
    await Promise.all(pending);
    return found as Buffer[];
  }

  private decodeRun(digest: string, run: AccessInterval[], decode: IntervalDecoder): Promise<Buffer[]> {
    const whole = { start: run[0]!.start, end: run.at(-1)!.end };
    const key = `${keyOf(digest, whole)}-${whole.end}`;
    return this.decoding.run(key, async () => {
      const bytes = await decode(whole);
      if (bytes.length !== whole.end - whole.start) {
        throw new Error(`decoded ${bytes.length} bytes for the interval ${whole.start}-${whole.end} of layer ${digest}`);
      }
      return run.map((interval) => {
        // Several intervals are copied apart, so evicting one frees its memory even while a neighbour is kept.
        const slice = bytes.subarray(interval.start - whole.start, interval.end - whole.start);
        const piece = run.length === 1 ? slice : Buffer.from(slice);
        this.cached.set(keyOf(digest, interval), piece);
        return piece;
      });
    });
  }
}

function keyOf(digest: string, interval: AccessInterval): string {
  return `${digest} ${interval.start}`;
}

/**
 * Returns the intervals of the index that overlap [offset, offset + length),
 * in order, or undefined for a plain layer, which has no decoding to save.
 */
export function intervalsCovering(
  index: RandomAccessIndex | AccessPoints,
  offset: number,
  length: number,
): AccessInterval[] | undefined {
  if (index.kind === "none") return undefined;
  const starts = accessStarts(index);
  const end = offset + length;
  const intervals: AccessInterval[] = [];
  let i = lastAtOrBefore(starts, offset);
  while (i < starts.length && starts[i]!.uncompressedOffset < end) {
    const start = starts[i]!.uncompressedOffset;
    const intervalEnd = starts[i + 1]?.uncompressedOffset ?? index.uncompressedSize;
    if (intervalEnd > start) intervals.push({ start, end: intervalEnd });
    i++;
  }
  return intervals;
}

/** Returns the places where decoding can start, in stream order. */
function accessStarts(index: Exclude<RandomAccessIndex, { kind: "none" }> | AccessPoints): readonly { uncompressedOffset: number }[] {
  switch (index.kind) {
    case "gzip":
      return index.checkpoints;
    case "zstd":
      return index.frames;
    case "points":
      return index.points;
  }
}
