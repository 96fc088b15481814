// The worker-thread gzip pass. A Worker cannot load the TypeScript sources,
// so these tests import the compiled modules from dist/, which the global
// setup builds, and compare them with the same pass on the calling thread.
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { deflateRawSync, gzipSync } from "node:zlib";

import { beforeAll, describe, expect, it } from "vitest";

import { crc32 } from "../../../src/layer/random-access/crc32.js";
import * as sourceAccess from "../../../src/layer/random-access/index.js";
import type * as WorkerIndexerModule from "../../../src/layer/random-access/worker-gzip-indexer.js";
import type * as IndexLayerModule from "../../../src/layer/index-layer.js";
import { gzip, packTar, sha256, streamOf } from "../tar-fixtures.js";
import { chunksOf, layerLikeData, runThrough, runTool } from "./fixtures.js";
import { TEST_SPACING } from "./gzip-helpers.js";

type AccessModule = typeof sourceAccess;
type GzipIndexer = sourceAccess.GzipCheckpointIndexer | sourceAccess.WorkerGzipIndexer;

const distRoot = new URL("../../../dist/", import.meta.url);
let dist: AccessModule;
let distIndexLayer: typeof IndexLayerModule.indexLayer;
let inputBatchSize: number;

beforeAll(async () => {
  dist = (await import(new URL("layer/random-access/index.js", distRoot).href)) as AccessModule;
  const workerModule = new URL("layer/random-access/worker-gzip-indexer.js", distRoot).href;
  inputBatchSize = ((await import(workerModule)) as typeof WorkerIndexerModule).INPUT_BATCH_SIZE;
  const layerModule = new URL("layer/index-layer.js", distRoot).href;
  distIndexLayer = ((await import(layerModule)) as typeof IndexLayerModule).indexLayer;
});

interface PassResult {
  output: Buffer;
  serializedIndex: Buffer;
}

async function runPass(indexer: GzipIndexer, blob: Buffer, chunkSize = 0): Promise<PassResult> {
  const output = await runThrough(indexer.stream, blob, chunkSize);
  const serializedIndex = dist.serializeRandomAccessIndex({ kind: "gzip", ...indexer.index() });
  return { output, serializedIndex };
}

function workerIndexer(): sourceAccess.WorkerGzipIndexer {
  return new dist.WorkerGzipIndexer({ spacing: TEST_SPACING, streamName: "test blob" });
}

function inlineIndexer(): sourceAccess.GzipCheckpointIndexer {
  return new dist.GzipCheckpointIndexer({ spacing: TEST_SPACING, streamName: "test blob" });
}

/** Runs the pass and returns what it threw. */
async function passError(indexer: GzipIndexer, blob: Buffer): Promise<unknown> {
  return runPass(indexer, blob).then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Builds one gzip member with an FEXTRA field of `extraLength` zero bytes. */
function memberWithExtra(data: Buffer, extraLength: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 3, 0, 0]);
  header.writeUInt16LE(extraLength, 10);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data, 0), 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, Buffer.alloc(extraLength), deflateRawSync(data), trailer]);
}

/**
 * Builds a multi-member blob in which gzip trailers, fixed headers and
 * FEXTRA lengths straddle the boundaries of the worker's input batches. The
 * FEXTRA lengths place the end of a member at each chosen offset from a
 * multiple of `batchSize`. Those members are empty, so the worker posts no
 * output between two boundaries. A last member contains `data`.
 */
function straddlingMembers(batchSize: number, data: Buffer): Buffer {
  // A member that ends 4 bytes after a boundary splits its trailer. One that
  // ends 5 or 11 bytes before it splits the next fixed header or FEXTRA length.
  const endOffsets = [4, -5, -11, 4, -5, -11, 4, -5, -11, 4, -5, -11];
  const empty = Buffer.alloc(0);
  const smallest = memberWithExtra(empty, 0).length;
  const members: Buffer[] = [];
  let position = 0;
  endOffsets.forEach((offset, i) => {
    const end = (i + 1) * batchSize + offset;
    const count = Math.ceil((end - position) / (smallest + 0xffff));
    const extraTotal = end - position - count * smallest;
    for (let member = 0; member < count; member++) {
      const extraLength = Math.floor(extraTotal / count) + (member < extraTotal % count ? 1 : 0);
      const built = memberWithExtra(empty, extraLength);
      members.push(built);
      position += built.length;
    }
    expect(position, `end of the members before boundary ${i + 1}`).toBe(end);
  });
  members.push(memberWithExtra(data, 0));
  return Buffer.concat(members);
}

/** Yields `data` in chunks of `chunkSize` bytes, each after a timer of 1 ms. */
async function* waitingChunks(data: Buffer, chunkSize: number): AsyncGenerator<Buffer> {
  for (let start = 0; start < data.length; start += chunkSize) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield data.subarray(start, start + chunkSize);
  }
}

function multiMember(data: Buffer): Buffer {
  const third = Math.floor(data.length / 3);
  return Buffer.concat([
    gzipSync(data.subarray(0, third), { level: 1 }),
    gzipSync(data.subarray(third, 2 * third), { level: 0 }),
    gzipSync(data.subarray(2 * third), { level: 9 }),
  ]);
}

describe("gzip pass on a worker thread", () => {
  it("runs on a worker only from dist", async () => {
    expect(dist.isIndexWorkerAvailable()).toBe(true);
    expect(sourceAccess.isIndexWorkerAvailable()).toBe(false);

    const compiled = dist.createIndexingDecompressor("gzip");
    expect(compiled.onWorkerThread).toBe(true);
    const destroyed = new Promise((resolve) => compiled.stream.once("close", resolve));
    compiled.stream.destroy();
    await destroyed;
    const inline = dist.createIndexingDecompressor("gzip", { useWorker: false });
    expect(inline.onWorkerThread).toBe(false);
    expect(sourceAccess.createIndexingDecompressor("gzip").onWorkerThread).toBe(false);
  });

  it("runs a small blob inline", async () => {
    const small = dist.createIndexingDecompressor("gzip", {
      expectedSize: dist.MIN_WORKER_BLOB_SIZE - 1,
    });
    expect(small.onWorkerThread).toBe(false);
    small.stream.destroy();

    const large = dist.createIndexingDecompressor("gzip", {
      expectedSize: dist.MIN_WORKER_BLOB_SIZE,
    });
    expect(large.onWorkerThread).toBe(true);
    const closed = new Promise((resolve) => large.stream.once("close", resolve));
    large.stream.destroy();
    await closed;
  });

  it("shares the workers between passes", async () => {
    const count = dist.MAX_INDEX_WORKERS + 2;
    const blobs = Array.from({ length: count }, (_, i) => gzipSync(layerLikeData(2_000_000, 70 + i)));
    const indexers = blobs.map(() => workerIndexer());
    const started = dist.runningIndexWorkers();
    expect(started, "workers for the passes").toBeGreaterThanOrEqual(1);
    expect(started, "workers for the passes").toBeLessThanOrEqual(dist.MAX_INDEX_WORKERS);

    const results = await Promise.all(indexers.map((indexer, i) => runPass(indexer, blobs[i]!, 100_000)));
    for (const [i, result] of results.entries()) {
      const inline = await runPass(inlineIndexer(), blobs[i]!);
      expect(result.output.equals(inline.output), `output of pass ${i}`).toBe(true);
      expect(result.serializedIndex.equals(inline.serializedIndex), `index of pass ${i}`).toBe(true);
      expect(indexers[i]!.outputDigest(), `output digest of pass ${i}`).toBe(sha256(inline.output));
    }
    await Promise.all(indexers.map((indexer) => indexer.left));
    expect(dist.runningIndexWorkers(), "workers after the last pass").toBe(0);
  });

  it("other passes outlive a destroyed pass", async () => {
    const shared = gzipSync(layerLikeData(3_000_000, 80));
    const stopped = workerIndexer();
    const others = Array.from({ length: dist.MAX_INDEX_WORKERS }, () => workerIndexer());
    const failed = new Promise((resolve) => stopped.stream.once("error", resolve));
    stopped.stream.write(shared.subarray(0, 700_000));
    const running = others.map((indexer) => runPass(indexer, shared, 50_000));
    stopped.stream.destroy(new Error("the reader went away"));
    expect(await failed).toMatchObject({ message: "the reader went away" });

    const inline = await runPass(inlineIndexer(), shared);
    for (const [i, result] of (await Promise.all(running)).entries()) {
      expect(result.output.equals(inline.output), `output of pass ${i}`).toBe(true);
      expect(result.serializedIndex.equals(inline.serializedIndex), `index of pass ${i}`).toBe(true);
    }
    await Promise.all([stopped, ...others].map((indexer) => indexer.left));
    expect(dist.runningIndexWorkers()).toBe(0);
  });

  const data = layerLikeData(6_000_000, 51);
  const inputs: Record<string, Buffer> = {
    "one member": gzipSync(data),
    "three members": multiMember(data),
    "the gzip command": runTool("gzip", ["-6", "-c"], data),
    "an empty member": gzipSync(Buffer.alloc(0)),
  };

  for (const [name, blob] of Object.entries(inputs)) {
    it(`matches the inline pass for ${name}`, async () => {
      const expected = name === "an empty member" ? Buffer.alloc(0) : data;
      const inline = await runPass(inlineIndexer(), blob);
      const sourceIndexer = new sourceAccess.GzipCheckpointIndexer({
        spacing: TEST_SPACING,
        streamName: "test blob",
      });
      const fromSource = await runPass(sourceIndexer, blob);
      for (const chunkSize of [0, 1000, 1 << 20]) {
        const worker = await runPass(workerIndexer(), blob, chunkSize);
        expect(worker.output.equals(expected), `output, chunks of ${chunkSize}`).toBe(true);
        const sameIndex = worker.serializedIndex.equals(inline.serializedIndex);
        expect(sameIndex, `index, chunks of ${chunkSize}`).toBe(true);
      }
      const withDigest = workerIndexer();
      await runPass(withDigest, blob);
      expect(withDigest.outputDigest(), "output digest").toBe(sha256(expected));
      expect(fromSource.serializedIndex.equals(inline.serializedIndex)).toBe(true);
    });
  }

  it("keeps the output whole for a slow reader", async () => {
    const blob = gzipSync(data, { level: 1 });
    const indexer = workerIndexer();
    const chunks: Buffer[] = [];
    const slowSink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        setImmediate(callback);
      },
    });
    await pipeline(Readable.from(chunksOf(blob, 4096)), indexer.stream, slowSink);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await indexer.left;
  });

  it("reads headers that straddle input batches", async () => {
    const expected = layerLikeData(200_000, 60);
    const blob = straddlingMembers(inputBatchSize, expected);
    const inline = await runPass(inlineIndexer(), blob);
    expect(inline.output.equals(expected), "inline output").toBe(true);
    const fast = await runPass(workerIndexer(), blob);
    expect(fast.output.equals(expected), "output").toBe(true);
    expect(fast.serializedIndex.equals(inline.serializedIndex), "index").toBe(true);

    // A writer that waits between chunks lets the worker run out of input
    // at most boundaries. It then posts the batches it released at once,
    // while a header read that spans two batches may be in progress.
    const indexer = workerIndexer();
    const output: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output.push(chunk);
        callback();
      },
    });
    await pipeline(Readable.from(waitingChunks(blob, 16 * 1024)), indexer.stream, sink);
    expect(Buffer.concat(output).equals(expected), "output of a slow writer").toBe(true);
    const slowIndex = dist.serializeRandomAccessIndex({ kind: "gzip", ...indexer.index() });
    expect(slowIndex.equals(inline.serializedIndex), "index of a slow writer").toBe(true);
  });

  it("reuses the input batches", async () => {
    const stored = Buffer.alloc(40 * inputBatchSize, 7);
    const blob = gzipSync(stored, { level: 0 });
    const indexer = workerIndexer();
    const output = await runThrough(indexer.stream, blob, 64 * 1024);
    expect(output.equals(stored)).toBe(true);
    expect(indexer.postedInputBatches).toBeGreaterThanOrEqual(40);
    expect(indexer.allocatedInputBatches).toBeLessThanOrEqual(indexer.postedInputBatches / 4);
    await indexer.left;
  });

  const small = layerLikeData(400_000, 52);
  const blob = gzipSync(small);
  const damages: Record<string, { damaged: Buffer; message: RegExp }> = {
    "a wrong trailer CRC": { damaged: flipByte(blob, blob.length - 8), message: /CRC mismatch/ },
    "a wrong trailer length": {
      damaged: flipByte(blob, blob.length - 1),
      message: /length mismatch/,
    },
    "a truncated blob": {
      damaged: blob.subarray(0, blob.length - 100),
      message: /unexpected end of data/,
    },
    "data after the last member": {
      damaged: Buffer.concat([blob, Buffer.from("junk that is not gzip")]),
      message: /invalid gzip magic/,
    },
    "invalid deflate data": {
      damaged: Buffer.from(blob).fill(0xff, 20, 60),
      message: /invalid deflate data/,
    },
  };

  for (const [name, { damaged, message }] of Object.entries(damages)) {
    it(`throws the inline error for ${name}`, async () => {
      const indexer = workerIndexer();
      const fromWorker = await passError(indexer, damaged);
      const inline = await passError(inlineIndexer(), damaged);
      expect(fromWorker).toBeInstanceOf(dist.RandomAccessError);
      expect(inline).toBeInstanceOf(dist.RandomAccessError);
      const workerError = fromWorker as sourceAccess.RandomAccessError;
      const inlineError = inline as sourceAccess.RandomAccessError;
      expect(workerError.message).toMatch(message);
      expect(workerError.message).toContain("test blob");
      expect(workerError.message).toBe(inlineError.message);
      expect(workerError.code).toBe(inlineError.code);
      expect(workerError.compressedOffset).toBe(inlineError.compressedOffset);
      expect(workerError.uncompressedOffset).toBe(inlineError.uncompressedOffset);
      await indexer.left;
    });
  }

  it("ends the worker when the stream is destroyed", async () => {
    const indexer = workerIndexer();
    const failed = new Promise((resolve) => indexer.stream.once("error", resolve));
    const closed = new Promise((resolve) => indexer.stream.once("close", resolve));
    indexer.stream.write(blob.subarray(0, 1000));
    indexer.stream.destroy(new Error("the reader went away"));
    expect(await failed).toMatchObject({ message: "the reader went away" });
    await closed;
    await indexer.left;
    expect(dist.runningIndexWorkers()).toBe(0);
    expect(() => indexer.index()).toThrow(/test blob: the gzip index is not finished/);
    expect(() => indexer.outputDigest()).toThrow(/test blob: the gzip index is not finished/);
  });

  it("ends the worker after a successful pass", async () => {
    const indexer = workerIndexer();
    const { output } = await runPass(indexer, blob);
    expect(output.equals(small)).toBe(true);
    await indexer.left;
    expect(dist.runningIndexWorkers()).toBe(0);
  });
});

describe("layer pass from dist", () => {
  async function layerBlob(): Promise<Buffer> {
    const entries = [
      { header: { name: "etc/os-release" }, content: "ID=test\n" },
      { header: { name: "usr/lib/big.bin" }, content: layerLikeData(3_000_000, 53) },
      { header: { name: "usr/share/doc/readme" }, content: "read me\n" },
    ];
    return gzip(await packTar(entries));
  }

  async function indexWith(
    indexLayer: typeof IndexLayerModule.indexLayer,
    blob: Buffer,
  ): Promise<{ layer: unknown; access: Buffer }> {
    let access: sourceAccess.RandomAccessIndex | undefined;
    const digest = sha256(blob);
    const onRandomAccessIndex = (index: sourceAccess.RandomAccessIndex) => (access = index);
    const layer = await indexLayer(streamOf(blob), { digest, onRandomAccessIndex });
    expect(access, "random-access index").toBeDefined();
    return { layer, access: dist.serializeRandomAccessIndex(access!) };
  }

  it("builds the same indexes as the sources", async () => {
    const blob = await layerBlob();
    const compiled = await indexWith(distIndexLayer, blob);
    const { indexLayer } = await import("../../../src/layer/index-layer.js");
    const fromSource = await indexWith(indexLayer, blob);
    expect(compiled.layer).toEqual(fromSource.layer);
    expect(compiled.access.equals(fromSource.access)).toBe(true);
  });

  it("names the layer digest in a worker error", async () => {
    const blob = await layerBlob();
    const damaged = flipByte(blob, blob.length - 8);
    const digest = sha256(damaged);
    const options = { digest, onRandomAccessIndex: () => undefined };
    const error = await distIndexLayer(streamOf(damaged), options).then(
      () => undefined,
      (thrown: unknown) => thrown as { code?: string; message?: string },
    );
    expect(error?.code).toBe("INVALID_LAYER");
    expect(error?.message).toContain(`layer ${digest}`);
    expect(error?.message).toMatch(/gzip member CRC mismatch/);
  });
});

function flipByte(blob: Buffer, position: number): Buffer {
  const damaged = Buffer.from(blob);
  damaged[position] = damaged[position]! ^ 1;
  return damaged;
}
