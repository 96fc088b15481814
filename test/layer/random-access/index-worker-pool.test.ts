// Passes that share an index worker (index-worker-pool.ts): many at once,
// failing and cancelled passes beside healthy ones, leases taken while the
// last worker is being terminated, and checkpoint windows next to the
// points where the worker's input batches end. A Worker cannot load the
// TypeScript sources, so the passes come from dist/, which the global setup
// builds. Every healthy pass must give gunzip's bytes, the inline pass's
// index and the SHA-256 of its output as outputDigest().
import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync, gzipSync, inflateRawSync } from "node:zlib";

import { beforeAll, describe, expect, it } from "vitest";

import type * as AccessModule from "../../../src/layer/random-access/index.js";
import type * as WorkerIndexerModule from "../../../src/layer/random-access/worker-gzip-indexer.js";
import { sha256 } from "../tar-fixtures.js";
import { chunksOf, layerLikeData, memoryFetch, readAll, seededRandom } from "./fixtures.js";

type Access = typeof AccessModule;
type WorkerIndexer = AccessModule.WorkerGzipIndexer;
type InlineIndexer = AccessModule.GzipCheckpointIndexer;

const distRoot = new URL("../../../dist/", import.meta.url);
let dist: Access;
let inputBatchSize: number;

beforeAll(async () => {
  dist = (await import(new URL("layer/random-access/index.js", distRoot).href)) as Access;
  const workerModule = new URL("layer/random-access/worker-gzip-indexer.js", distRoot).href;
  inputBatchSize = ((await import(workerModule)) as typeof WorkerIndexerModule).INPUT_BATCH_SIZE;
});

/** The smallest input chunk of the native inflater (NATIVE_MIN_INPUT in gzip-indexer.ts). */
const NATIVE_MIN_INPUT = 64 * 1024;
const STREAM_NAME = "pool blob";

interface PassOptions {
  spacing?: number;
  inflater?: "native" | "pako";
}

function workerIndexer(options: PassOptions = {}): WorkerIndexer {
  return new dist.WorkerGzipIndexer({ spacing: options.spacing ?? 64 * 1024, streamName: STREAM_NAME, ...options });
}

function inlineIndexer(options: PassOptions = {}): InlineIndexer {
  return new dist.GzipCheckpointIndexer({ spacing: options.spacing ?? 64 * 1024, streamName: STREAM_NAME, ...options });
}

interface FeedOptions {
  /** Bytes per write; 0 writes seeded random sizes. */
  chunkSize?: number;
  /** Waits for setImmediate before each write. */
  slowWriter?: boolean;
  /** Takes each output chunk only after a setImmediate, with a highWaterMark of 1. */
  slowReader?: boolean;
}

/** Writes `blob` through `stream` and returns its output. Rejects with the stream's error. */
async function feed(stream: NodeJS.ReadWriteStream, blob: Buffer, options: FeedOptions = {}): Promise<Buffer> {
  const chunks = chunksOf(blob, options.chunkSize ?? 0);
  async function* slowly(): AsyncGenerator<Buffer> {
    for (const chunk of chunks) {
      await new Promise((resolve) => setImmediate(resolve));
      yield chunk;
    }
  }
  const output: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: options.slowReader ? 1 : 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      if (options.slowReader) setImmediate(callback);
      else callback();
    },
  });
  const source = options.slowWriter ? Readable.from(slowly()) : Readable.from(chunks);
  await pipeline(source, stream, sink);
  return Buffer.concat(output);
}

function serialized(index: AccessModule.GzipCheckpointIndex): Buffer {
  return dist.serializeRandomAccessIndex({ kind: "gzip", ...index });
}

interface Reference {
  output: Buffer;
  index: Buffer;
  checkpoints: AccessModule.GzipCheckpointIndex;
}

/** Runs the inline pass, and checks that its output is gunzip's. */
async function inlineReference(blob: Buffer, options: PassOptions = {}): Promise<Reference> {
  const indexer = inlineIndexer(options);
  const output = await feed(indexer.stream, blob);
  expect(output.equals(gunzipSync(blob)), "inline output is gunzip's").toBe(true);
  return { output, index: serialized(indexer.index()), checkpoints: indexer.index() };
}

/** Asserts that a finished worker pass gave the reference's output, index and digest. */
function expectSamePass(label: string, indexer: WorkerIndexer, output: Buffer, reference: Reference): void {
  expect(output.length, `${label}: output length`).toBe(reference.output.length);
  expect(output.equals(reference.output), `${label}: output bytes`).toBe(true);
  expect(serialized(indexer.index()).equals(reference.index), `${label}: index`).toBe(true);
  expect(indexer.outputDigest(), `${label}: output digest`).toBe(sha256(reference.output));
}

/** Lists where the checkpoints of two indexes differ, for a failure message. */
function checkpointDifferences(
  actual: AccessModule.GzipCheckpointIndex,
  expected: AccessModule.GzipCheckpointIndex,
): string[] {
  const differences: string[] = [];
  const count = Math.max(actual.checkpoints.length, expected.checkpoints.length);
  for (let i = 0; i < count; i++) {
    const a = actual.checkpoints[i];
    const e = expected.checkpoints[i];
    const describe = (checkpoint: typeof a) =>
      checkpoint === undefined
        ? "none"
        : `uncompressed ${checkpoint.uncompressedOffset}, bit ${checkpoint.compressedBitOffset}, window ${checkpoint.window.length} bytes`;
    const same =
      a !== undefined &&
      e !== undefined &&
      a.uncompressedOffset === e.uncompressedOffset &&
      a.compressedBitOffset === e.compressedBitOffset &&
      a.memberStart === e.memberStart &&
      a.endCrc === e.endCrc &&
      Buffer.from(a.window).equals(e.window);
    if (!same) differences.push(`checkpoint ${i}: worker ${describe(a)}, inline ${describe(e)}`);
  }
  return differences;
}

/** Reads [offset, offset + length) through `index` from the blob in memory, as after eviction. */
async function readAfterEviction(
  index: AccessModule.GzipCheckpointIndex,
  blob: Buffer,
  offset: number,
  length: number,
): Promise<Buffer> {
  return readAll(dist.readGzipRange(index, memoryFetch(blob), offset, length, { streamName: STREAM_NAME }));
}

/** Adds an FNAME field of `length` bytes to a one-member blob from gzipSync, which moves its deflate data. */
function withNameField(blob: Buffer, length: number): Buffer {
  const header = Buffer.from(blob.subarray(0, 10));
  header[3] = header[3]! | 0x08;
  return Buffer.concat([header, Buffer.alloc(length, 0x61), Buffer.of(0), blob.subarray(10)]);
}

function flipByte(blob: Buffer, position: number): Buffer {
  const damaged = Buffer.from(blob);
  damaged[position] = damaged[position]! ^ 1;
  return damaged;
}

async function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("passes sharing one index worker", () => {
  it("healthy passes survive failing neighbours", async () => {
    const healthyBlobs = [
      gzipSync(layerLikeData(2_500_000, 101), { level: 6 }),
      gzipSync(layerLikeData(1_800_000, 102), { level: 1 }),
      Buffer.concat([
        gzipSync(layerLikeData(700_000, 103), { level: 9 }),
        gzipSync(Buffer.alloc(0)),
        gzipSync(layerLikeData(900_000, 104), { level: 0 }),
      ]),
      gzipSync(randomBytes(1_200_000), { level: 6 }),
    ];
    const healthyRuns: Array<{ blob: number; feed: FeedOptions }> = [
      { blob: 0, feed: {} },
      { blob: 0, feed: { slowReader: true } },
      { blob: 1, feed: { slowWriter: true, chunkSize: 20_000 } },
      { blob: 2, feed: { chunkSize: 1 << 20 } },
      { blob: 2, feed: { slowReader: true, slowWriter: true } },
      { blob: 3, feed: { chunkSize: 3000 } },
    ];
    const base = healthyBlobs[0]!;
    const corrupt: Array<{ name: string; blob: Buffer; message: RegExp }> = [
      { name: "trailer CRC", blob: flipByte(base, base.length - 6), message: /gzip member CRC mismatch/ },
      { name: "truncation", blob: base.subarray(0, base.length - 5000), message: /unexpected end of data/ },
      { name: "garbage", blob: randomBytes(900_000), message: /invalid gzip magic/ },
      { name: "empty input", blob: Buffer.alloc(0), message: /unexpected end of data while reading a gzip header/ },
      { name: "deflate data", blob: Buffer.from(base).fill(0xff, 20, 60), message: /invalid deflate data/ },
      {
        name: "junk after a member",
        blob: Buffer.concat([healthyBlobs[1]!, Buffer.from("junk that is not gzip")]),
        message: /invalid gzip magic/,
      },
    ];

    const references = await Promise.all(healthyBlobs.map((blob) => inlineReference(blob)));
    const healthy = healthyRuns.map(() => workerIndexer());
    const failing = corrupt.map(() => workerIndexer());
    const cancelled = [workerIndexer(), workerIndexer(), workerIndexer()];
    expect(dist.runningIndexWorkers(), "workers for all passes").toBeLessThanOrEqual(dist.MAX_INDEX_WORKERS);

    const healthyDone = healthyRuns.map((run, i) => feed(healthy[i]!.stream, healthyBlobs[run.blob]!, run.feed));
    const failingDone = corrupt.map((c, i) => settled(feed(failing[i]!.stream, c.blob)));

    // One pass is destroyed at its first output, one by its writer halfway
    // through the input, and one whose output is never read, so that its
    // worker pass waits for output credit.
    const firstOutput = cancelled[0]!;
    const firstOutputError = settled(feed(firstOutput.stream, base, { slowReader: true }));
    firstOutput.stream.once("data", () => firstOutput.stream.destroy(new Error("cancelled at its first output")));
    const halfway = cancelled[1]!;
    const halfwayError = new Promise((resolve) => halfway.stream.once("error", resolve));
    halfway.stream.on("data", () => undefined);
    halfway.stream.write(base.subarray(0, base.length >> 1), () => {
      halfway.stream.destroy(new Error("cancelled halfway"));
    });
    const unread = cancelled[2]!;
    const unreadError = new Promise((resolve) => unread.stream.once("error", resolve));
    unread.stream.write(healthyBlobs[1]!);
    unread.stream.once("readable", () => unread.stream.destroy(new Error("cancelled unread")));

    const outputs = await Promise.all(healthyDone);
    for (const [i, run] of healthyRuns.entries()) {
      expectSamePass(`healthy pass ${i}`, healthy[i]!, outputs[i]!, references[run.blob]!);
    }
    for (const [i, error] of (await Promise.all(failingDone)).entries()) {
      const { name, blob, message } = corrupt[i]!;
      const inline = await settled(feed(inlineIndexer().stream, blob));
      expect(error, `error of the ${name} pass`).toBeInstanceOf(dist.RandomAccessError);
      expect((error as Error).message, `error of the ${name} pass`).toMatch(message);
      expect((error as Error).message, `error of the ${name} pass`).toContain(STREAM_NAME);
      expect((error as Error).message, `error of the ${name} pass`).toBe((inline as Error).message);
    }
    expect(await firstOutputError).toMatchObject({ message: "cancelled at its first output" });
    expect(await halfwayError).toMatchObject({ message: "cancelled halfway" });
    expect(await unreadError).toMatchObject({ message: "cancelled unread" });

    await Promise.all([...healthy, ...failing, ...cancelled].map((indexer) => indexer.left));
    expect(dist.runningIndexWorkers(), "workers after the last pass").toBe(0);
  });

  it("leases taken while the worker terminates", async () => {
    const blob = gzipSync(layerLikeData(150_000, 110));
    const reference = await inlineReference(blob);
    const left: Promise<void>[] = [];
    for (let round = 0; round < 25; round++) {
      // The pass before has just ended, so its worker is terminating when this
      // one leases a worker. Every third round also starts and destroys a
      // pass right away, which ends a worker that has had no input.
      if (round % 3 === 0) {
        const dropped = workerIndexer();
        dropped.stream.on("error", () => undefined);
        dropped.stream.destroy(new Error("dropped at once"));
        left.push(dropped.left);
      }
      const indexer = workerIndexer();
      const output = await feed(indexer.stream, blob, { chunkSize: 1 << 20 });
      expectSamePass(`round ${round}`, indexer, output, reference);
      left.push(indexer.left);
      expect(dist.runningIndexWorkers(), `workers in round ${round}`).toBeLessThanOrEqual(dist.MAX_INDEX_WORKERS);
    }
    await Promise.all(left);
    expect(dist.runningIndexWorkers(), "workers after the last round").toBe(0);
  });

  it("back-to-back passes without waiting", async () => {
    const blobs = Array.from({ length: 12 }, (_, i) => gzipSync(layerLikeData(60_000 + i * 5000, 120 + i)));
    const references = await Promise.all(blobs.map((blob) => inlineReference(blob)));
    // Each pass starts in the same tick as the previous one's last write, so
    // passes join and leave a worker while others are in flight.
    const indexers: WorkerIndexer[] = [];
    const runs: Promise<Buffer>[] = [];
    for (const blob of blobs) {
      const indexer = workerIndexer();
      indexers.push(indexer);
      runs.push(feed(indexer.stream, blob, { chunkSize: 1 << 20 }));
    }
    const outputs = await Promise.all(runs);
    for (const [i, indexer] of indexers.entries()) expectSamePass(`pass ${i}`, indexer, outputs[i]!, references[i]!);
    await Promise.all(indexers.map((indexer) => indexer.left));
    expect(dist.runningIndexWorkers()).toBe(0);
  });
});

describe("flow control of a shared worker", () => {
  // The worker sends at most MAX_OUTPUTS_IN_FLIGHT (4) output messages, of
  // at most OUTPUT_BUFFER_SIZE (256 KiB) each, before the main thread passes
  // one on, and the main thread keeps at most MAX_INPUTS_IN_FLIGHT (4)
  // batches queued.
  const maxUnreadOutput = 4 * 256 * 1024;

  it("unread output stays bounded", async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const blob = gzipSync(data, { level: 0 });
    const batches = Math.ceil(blob.length / inputBatchSize);
    const indexers = [workerIndexer(), workerIndexer(), workerIndexer()];
    for (const indexer of indexers) Readable.from(chunksOf(blob, 64 * 1024)).pipe(indexer.stream);

    for (let turn = 0; turn < 1000 && indexers.some((indexer) => indexer.stream.readableLength === 0); turn++) {
      await sleep(5);
    }
    // The worker gets more time, and must not send more while the output is not read.
    await sleep(300);
    for (const [i, indexer] of indexers.entries()) {
      expect(indexer.stream.readableLength, `unread output of pass ${i}`).toBeGreaterThan(0);
      expect(indexer.stream.readableLength, `unread output of pass ${i}`).toBeLessThanOrEqual(maxUnreadOutput);
      expect(indexer.allocatedInputBatches, `input batches of pass ${i}`).toBeLessThanOrEqual(8);
      expect(indexer.postedInputBatches, `posted batches of pass ${i}`).toBeLessThan(batches);
    }

    // Reading resumes every stalled pass, and each gives the whole output.
    const outputs = await Promise.all(indexers.map((indexer) => readAll(indexer.stream)));
    for (const [i, indexer] of indexers.entries()) {
      expect(outputs[i]!.equals(data), `output of pass ${i}`).toBe(true);
      expect(indexer.outputDigest(), `output digest of pass ${i}`).toBe(sha256(data));
      expect(indexer.postedInputBatches, `posted batches of pass ${i}`).toBe(batches);
    }
    await Promise.all(indexers.map((indexer) => indexer.left));
    expect(dist.runningIndexWorkers()).toBe(0);
  });
});

describe("passes near the end of an input batch", () => {
  // With a last batch smaller than the native inflater's 64 KiB minimum
  // input, the pass requests the end of the input while it still uses the
  // batch before the last. The worker must not hand that batch back yet.

  it("two members ending in a small last batch", async () => {
    const first = gzipSync(randomBytes(inputBatchSize - 1300), { level: 0 });
    const restOfFirstBatch = inputBatchSize - first.length;
    for (const lastMemberSize of [restOfFirstBatch + 100, restOfFirstBatch + 2000, restOfFirstBatch + 20_000]) {
      for (const chunkSize of [0, 4096]) {
        const second = gzipSync(randomBytes(lastMemberSize), { level: 0 });
        const blob = Buffer.concat([first, second]);
        const label = `second member of ${lastMemberSize} bytes, writes of ${chunkSize}`;
        // The second member starts in the first batch, and what is left of
        // that batch and the last batch together are less than 64 KiB.
        expect(first.length, label).toBeLessThan(inputBatchSize);
        expect(blob.length, label).toBeGreaterThan(inputBatchSize);
        expect(blob.length - first.length, label).toBeLessThan(NATIVE_MIN_INPUT);

        const reference = await inlineReference(blob);
        const indexer = workerIndexer();
        const output = await feed(indexer.stream, blob, { chunkSize }).catch((error: unknown) => {
          throw new Error(`${label}: ${String(error)}`);
        });
        expectSamePass(label, indexer, output, reference);
        await indexer.left;
      }
    }
  });

  it("checkpoint probe across the last batch", async () => {
    const spacing = 32 * 1024;
    const data = layerLikeData(1_500_000, 5);
    const base = gzipSync(data, { level: 6 });
    const baseIndex = (await inlineReference(base, { spacing })).checkpoints;
    // The first checkpoint whose block boundary can be moved to just before the
    // end of the first batch while the blob stays under one batch plus 64 KiB.
    const distanceBeforeBatchEnd = 400;
    const candidates = baseIndex.checkpoints.filter((checkpoint) => {
      const offset = Math.floor(checkpoint.compressedBitOffset / 8);
      return !checkpoint.memberStart && base.length - offset + distanceBeforeBatchEnd < NATIVE_MIN_INPUT;
    });
    expect(candidates.length, "checkpoints near the end of the blob").toBeGreaterThan(0);
    const boundary = Math.floor(candidates[0]!.compressedBitOffset / 8);
    const blob = withNameField(base, inputBatchSize - distanceBeforeBatchEnd - boundary - 1);
    expect(blob.length, "blob size").toBeGreaterThan(inputBatchSize);
    expect(blob.length - inputBatchSize, "bytes of the last batch").toBeLessThan(NATIVE_MIN_INPUT);

    const reference = await inlineReference(blob, { spacing });
    const indexer = workerIndexer({ spacing });
    const output: Buffer[] = [];
    indexer.stream.on("data", (chunk: Buffer) => output.push(chunk));
    const ended = new Promise((resolve, reject) => {
      indexer.stream.once("end", resolve);
      indexer.stream.once("error", reject);
    });
    // The first batch goes alone, so the worker inflates it and waits in the
    // middle of the probe for the last batch. Should the worker be slower
    // than the wait, the test only misses the case.
    indexer.stream.write(blob.subarray(0, inputBatchSize));
    await sleep(250);
    indexer.stream.end(blob.subarray(inputBatchSize));
    await ended;
    await indexer.left;

    // The cache stores the index serialized, and parsing checks every checkpoint against the blob.
    const stored = serialized(indexer.index());
    expect(() => dist.parseRandomAccessIndex(stored), "parse of the stored index").not.toThrow();
    const differences = checkpointDifferences(indexer.index(), reference.checkpoints);
    expect(differences, "checkpoints that differ from the inline pass").toEqual([]);
    expectSamePass("probe across the last batch", indexer, Buffer.concat(output), reference);
    for (const checkpoint of indexer.index().checkpoints) {
      const offset = Math.max(0, checkpoint.uncompressedOffset - 10);
      const length = Math.min(20_000, data.length - offset);
      const bytes = await readAfterEviction(indexer.index(), blob, offset, length);
      expect(bytes.equals(data.subarray(offset, offset + length)), `read at ${offset}`).toBe(true);
    }
  });
});

describe("checkpoint windows of a worker pass", () => {
  /**
   * Builds members of sizes near multiples of `spacing`, with empty members
   * between, so member starts fall right after, right before and at the
   * points where checkpoints are due.
   */
  function membersAroundCheckpoints(spacing: number, seed: number): { blob: Buffer; data: Buffer } {
    const random = seededRandom(seed);
    const sizes = [spacing + 1, 1, spacing - 1, 0, spacing, 32 * 1024 + 7, 3, 2 * spacing + 5000, 0, spacing + 40_000];
    const parts: Buffer[] = [];
    const members: Buffer[] = [];
    for (const [i, size] of sizes.entries()) {
      const part = layerLikeData(size, seed * 100 + i);
      parts.push(part);
      members.push(gzipSync(part, { level: [0, 1, 6, 9][Math.floor(random() * 4)]! }));
    }
    return { blob: Buffer.concat(members), data: Buffer.concat(parts) };
  }

  const spacings = [1, 1000, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 40_000, 100_003];
  for (const spacing of spacings) {
    it(`matches the inline windows at spacing ${spacing}`, async () => {
      const { blob, data } = membersAroundCheckpoints(Math.max(spacing, 4096), spacing % 97);
      const single = gzipSync(layerLikeData(1_300_000, 130), { level: 4 });
      for (const [name, input, expected] of [
        ["members around checkpoints", blob, data],
        ["one member", single, gunzipSync(single)],
      ] as const) {
        for (const inflater of ["native", "pako"] as const) {
          const label = `${name}, ${inflater}, spacing ${spacing}`;
          const reference = await inlineReference(input, { spacing, inflater });
          const indexer = workerIndexer({ spacing, inflater });
          const output = await feed(indexer.stream, input, { chunkSize: 70_001 });
          expect(checkpointDifferences(indexer.index(), reference.checkpoints), label).toEqual([]);
          expectSamePass(label, indexer, output, reference);

          // Each window must be the 32 KiB before its checkpoint, within the member.
          const index = indexer.index();
          let memberStart = 0;
          for (const checkpoint of index.checkpoints) {
            if (checkpoint.memberStart) memberStart = checkpoint.uncompressedOffset;
            const windowStart = Math.max(memberStart, checkpoint.uncompressedOffset - 32 * 1024);
            const window = expected.subarray(windowStart, checkpoint.uncompressedOffset);
            const inflated = inflateWindow(checkpoint.window);
            expect(inflated.equals(window), `${label}: window at ${checkpoint.uncompressedOffset}`).toBe(true);
          }
          await indexer.left;
          // Reads after eviction start 3 bytes before some of the checkpoints.
          for (const checkpoint of index.checkpoints.filter((_, i) => i % 7 === 3).slice(0, 6)) {
            const offset = Math.max(0, checkpoint.uncompressedOffset - 3);
            const length = Math.min(50_000, expected.length - offset);
            const bytes = await readAfterEviction(index, input, offset, length);
            expect(bytes.equals(expected.subarray(offset, offset + length)), `${label}: read at ${offset}`).toBe(true);
          }
        }
      }
    });
  }
});

/** Inflates a checkpoint window, which the recorder stores as raw deflate data, or empty at a member start. */
function inflateWindow(window: Buffer): Buffer {
  return window.length === 0 ? Buffer.alloc(0) : inflateRawSync(window);
}
