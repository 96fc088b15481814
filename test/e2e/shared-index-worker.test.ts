// Large gzip layers, each at least MIN_WORKER_BLOB_SIZE (32 MiB) compressed,
// listed at once through bin/regdav, so their passes share the index worker.
// One layer is corrupt on the registry's disk. The healthy layers must list
// and read exactly, also after eviction, and their diff IDs must be the
// config's, while the corrupt one fails with an error that names its digest.
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { constants, crc32, createDeflateRaw, gzipSync } from "node:zlib";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { GzipCheckpointIndexer } from "../../src/layer/random-access/gzip-indexer.js";

import { makeBlob, makeImageConfig, makeLayerTar, mediaTypes, sha256Digest, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, getBytes, listNames } from "./dav-client.js";

/** The size of the random file in each large layer, so that each blob is over 32 MiB and goes to the worker. */
const BIG_FILE_SIZE = 33 * 1024 * 1024;
/** The worker's input batch (INPUT_BATCH_SIZE in worker-gzip-indexer.ts). */
const INPUT_BATCH_SIZE = 512 * 1024;

interface LargeLayer {
  layer: LayerBlob;
  big: Buffer;
  note: string;
}

/** Builds a layer of a random file and a short note. Random bytes keep the blob as large as the file. */
async function largeLayer(name: string, level: number): Promise<LargeLayer> {
  const big = randomBytes(BIG_FILE_SIZE);
  const note = `the ${name} layer\n`;
  const tar = await makeLayerTar([
    { type: "file", path: `${name}/big.bin`, content: big },
    { type: "file", path: `${name}/note.txt`, content: note },
  ]);
  const bytes = gzipSync(tar, { level });
  const layer = { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), uncompressed: tar };
  return { layer, big, note };
}

/**
 * Builds a layer of two gzip members. The first ends 1000 bytes before the
 * end of an input batch, and the second contains the last 3000 bytes of the
 * tar, so the last batch is small. An FNAME field in the first header moves
 * the member end to that point.
 */
async function twoMemberLayer(): Promise<LargeLayer> {
  const big = randomBytes(BIG_FILE_SIZE);
  const note = "the two-member layer\n";
  const tar = await makeLayerTar([
    { type: "file", path: "split/big.bin", content: big },
    { type: "file", path: "split/note.txt", content: note },
  ]);
  const split = tar.length - 3000;
  const plain = gzipSync(tar.subarray(0, split), { level: 0 });
  const nameLength = (((INPUT_BATCH_SIZE - 1000 - plain.length - 1) % INPUT_BATCH_SIZE) + INPUT_BATCH_SIZE) % INPUT_BATCH_SIZE;
  const header = Buffer.from(plain.subarray(0, 10));
  header[3] = header[3]! | 0x08;
  const first = Buffer.concat([header, Buffer.alloc(nameLength, 0x6e), Buffer.of(0), plain.subarray(10)]);
  const second = gzipSync(tar.subarray(split), { level: 0 });
  expect(INPUT_BATCH_SIZE - (first.length % INPUT_BATCH_SIZE), "bytes of the batch after the first member").toBe(1000);
  const bytes = Buffer.concat([first, second]);
  const layer = { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), uncompressed: tar };
  return { layer, big, note };
}

/** Runs the inline pass with regdav's default spacing and returns its checkpoints after member starts. */
async function checkpointsOf(blob: Buffer): Promise<Array<{ uncompressed: number; compressed: number }>> {
  const indexer = new GzipCheckpointIndexer({ streamName: "probe layer" });
  const done = new Promise((resolve, reject) => {
    indexer.stream.on("data", () => undefined);
    indexer.stream.once("end", resolve);
    indexer.stream.once("error", reject);
  });
  indexer.stream.end(blob);
  await done;
  return indexer
    .index()
    .checkpoints.filter((checkpoint) => !checkpoint.memberStart)
    .map((checkpoint) => ({
      uncompressed: checkpoint.uncompressedOffset,
      compressed: Math.floor(checkpoint.compressedBitOffset / 8),
    }));
}

async function probeTar(big: Buffer, text: string): Promise<Buffer> {
  return makeLayerTar([
    { type: "file", path: "probe/big.bin", content: big },
    { type: "file", path: "probe/note.txt", content: text },
  ]);
}

/**
 * Compresses `data` as one gzip member with an FNAME field of `nameLength`
 * bytes, and a full flush every 16 KiB from `flushFrom` on. Each flush ends
 * a block, so checkpoints there are at most 16 KiB after they are due.
 */
async function gzipWithFlushes(data: Buffer, flushFrom: number, nameLength: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 1 });
  const output: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => output.push(chunk));
  const ended = once(deflate, "end");
  const flush = () => new Promise<void>((resolve) => deflate.flush(constants.Z_FULL_FLUSH, () => resolve()));
  deflate.write(data.subarray(0, flushFrom));
  for (let start = flushFrom; start < data.length; start += 16 * 1024) {
    await flush();
    deflate.write(data.subarray(start, start + 16 * 1024));
  }
  deflate.end();
  await ended;
  const header = Buffer.from([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([header, Buffer.alloc(nameLength, 0x6e), Buffer.of(0), ...output, trailer]);
}

/** Returns the offset of the note's content in a tar from probeTar: after the big file and the note's header. */
function noteStart(bigSize: number): number {
  return 512 + Math.ceil(bigSize / 512) * 512 + 512;
}

/**
 * Builds a one-member layer whose last checkpoint lies 400 bytes before the
 * end of an input batch, with less than 64 KiB after that batch but more
 * than the 66 KiB of output that the native inflater's probe needs. The
 * worker then waits in the middle of that probe for the last batch. A first
 * build with a long note finds the first checkpoint inside the note. The
 * note is then cut 100 KiB after it, which leaves the earlier blocks as
 * they were, because full flushes end a block every 16 KiB from 1 KiB
 * before the note's header on.
 */
async function probeLayer(): Promise<LargeLayer> {
  const big = randomBytes(32 * 1024 * 1024 + 64 * 1024);
  const lines: string[] = [];
  for (let line = 0; lines.length < 200_000; line++) lines.push(`probe line ${line % 50} of the note\n`);
  const longNote = lines.join("");
  const textStart = noteStart(big.length);
  const flushFrom = textStart - 1024 - 512;

  const longTar = await probeTar(big, longNote);
  const longCheckpoints = await checkpointsOf(await gzipWithFlushes(longTar, flushFrom, 0));
  const inNote = longCheckpoints.find((checkpoint) => checkpoint.uncompressed > textStart + 1024);
  expect(inNote, "checkpoint inside the long note").toBeDefined();
  const note = longNote.slice(0, inNote!.uncompressed - textStart + 100 * 1024);

  const tar = await probeTar(big, note);
  const unshifted = await gzipWithFlushes(tar, flushFrom, 0);
  const last = (await checkpointsOf(unshifted)).at(-1)!;
  expect(last.uncompressed, "last checkpoint").toBe(inNote!.uncompressed);
  expect(unshifted.length - last.compressed, "bytes after the last checkpoint").toBeLessThan(64 * 1024 - 400);

  const nameLength = INPUT_BATCH_SIZE - 400 - (last.compressed % INPUT_BATCH_SIZE);
  const bytes = await gzipWithFlushes(tar, flushFrom, nameLength);
  expect((last.compressed + nameLength) % INPUT_BATCH_SIZE, "checkpoint before the batch end").toBe(INPUT_BATCH_SIZE - 400);
  expect(bytes.length % INPUT_BATCH_SIZE, "bytes of the last input batch").toBeLessThan(64 * 1024);
  const layer = { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), uncompressed: tar };
  return { layer, big, note };
}

/** Returns the `layers/N-<hex12>` folder name of a layer at 1-based `position`. */
function layerFolder(position: number, layer: LayerBlob): string {
  return `layers/${position}-${layer.digest.slice("sha256:".length, "sha256:".length + 12)}`;
}

/** Reads manifest.json, the first member of a docker-archive image.tar, from its first bytes. */
function archiveManifest(head: Buffer): { Config: string; Layers: string[] } {
  const name = head.subarray(0, 100).toString("latin1").replace(/\0.*$/s, "");
  expect(name, "first member of image.tar").toBe("manifest.json");
  const size = Number.parseInt(head.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim(), 8);
  const document = JSON.parse(head.subarray(512, 512 + size).toString("utf8")) as Array<{ Config: string; Layers: string[] }>;
  expect(document.length, "images in manifest.json").toBe(1);
  return document[0]!;
}

describe("large layers sharing the index worker", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let healthy: LargeLayer[];
  let corrupt: LargeLayer;
  const tagUrl = (repository: string, path = "") => `${regdav.url}${registry.host}/${repository}/_tags/v1/${path}`;
  const pushOneLayerImage = async (repository: string, layer: LayerBlob) => {
    expect(layer.size, `size of ${layer.digest}`).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    const config = makeImageConfig({ layers: [layer] });
    await pushImage(registry.host, repository, "v1", { layers: [layer], config, format: "oci" });
  };

  beforeAll(async () => {
    registry = await startRegistry();
    healthy = [await largeLayer("first", 0), await largeLayer("second", 1), await largeLayer("third", 0)];
    corrupt = await largeLayer("corrupt", 0);
    for (const { layer } of [...healthy, corrupt]) {
      expect(layer.size, `size of ${layer.digest}`).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    }

    const mixedLayers = [...healthy, corrupt].map(({ layer }) => layer);
    const mixedConfig = makeImageConfig({ layers: mixedLayers });
    await pushImage(registry.host, "pool/mixed", "v1", { layers: mixedLayers, config: mixedConfig, format: "oci" });
    const healthyLayers = healthy.map(({ layer }) => layer);
    const healthyConfig = makeImageConfig({ layers: healthyLayers });
    await pushImage(registry.host, "pool/healthy", "v1", { layers: healthyLayers, config: healthyConfig, format: "oci" });
    const filler = await fillerLayer();
    const fillerConfig = makeImageConfig({ layers: [filler] });
    await pushImage(registry.host, "pool/filler", "v1", { layers: [filler], config: fillerConfig, format: "oci" });

    // Damage one byte in the middle of the corrupt layer's blob on the registry's disk.
    const hex = corrupt.layer.digest.slice("sha256:".length);
    const path = join(registry.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    const stored = await readFile(path);
    const middle = stored.length >> 1;
    stored[middle] = stored[middle]! ^ 0x40;
    await writeFile(path, stored);

    // A cache of 1 byte keeps only the newest blob, so each listing evicts the layers before it.
    regdav = await startRegdav(["--registry", registry.host, "--cache-size", "1", "--log-level", "debug"]);
  }, 120_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("lists healthy layers beside a corrupt one", async () => {
    const layers = [...healthy, corrupt];
    const listings = await Promise.all(
      layers.map(async ({ layer }, i) => {
        const response = await davRequest(tagUrl("pool/mixed", `${layerFolder(i + 1, layer)}/`), "PROPFIND", {
          Depth: "1",
        });
        return { status: response.status, body: response.body.toString() };
      }),
    );
    const names = ["first", "second", "third"];
    for (const [i, name] of names.entries()) {
      const listing = listings[i]!;
      expect(listing.status, `status of the ${name} layer: ${listing.body.slice(0, 300)}`).toBe(207);
      expect(listing.body, `listing of the ${name} layer`).toContain(`${name}/`);
    }
    const failed = listings[3]!;
    expect(failed.status, "status of the corrupt layer").toBe(502);
    expect(failed.body, "error of the corrupt layer").toContain(corrupt.layer.digest);

    for (const { layer } of healthy) {
      const passes = regdav.output().split("\n").filter((line) => line.includes(`layer tar indexed digest=${layer.digest}`));
      expect(passes.length, `passes of ${layer.digest}`).toBe(1);
      expect(passes[0], `pass of ${layer.digest}`).toContain("thread=worker");
    }
    const options = await davRequest(regdav.url, "OPTIONS");
    expect(options.status, "server after the failed layer").toBe(200);
    for (const [i, name] of names.entries()) {
      const folder = layerFolder(i + 1, healthy[i]!.layer);
      expect(await listNames(tagUrl("pool/mixed", `${folder}/${name}/`))).toEqual(["big.bin", "note.txt"]);
    }
  });

  it("reads healthy layers after eviction", async () => {
    // Reading the filler makes its blob the newest, which evicts every large blob.
    expect((await getBytes(tagUrl("pool/filler", "rootfs/filler.txt"))).toString()).toBe("filler\n");
    const names = ["first", "second", "third"];
    for (const [i, name] of names.entries()) {
      const { big, note } = healthy[i]!;
      const base = tagUrl("pool/healthy", `rootfs/${name}/`);
      expect((await getBytes(`${base}note.txt`)).toString(), `note of the ${name} layer`).toBe(note);
      for (const start of [0, 5_000_000, 17_000_001, BIG_FILE_SIZE - 70_000]) {
        const end = Math.min(BIG_FILE_SIZE, start + 65_536) - 1;
        const part = await getBytes(`${base}big.bin`, { Range: `bytes=${start}-${end}` });
        expect(part.equals(big.subarray(start, end + 1)), `bytes ${start}-${end} of the ${name} layer`).toBe(true);
      }
    }
  });

  it("archive names the config's diff IDs", async () => {
    const head = await getBytes(tagUrl("pool/healthy", "docker-archive/image.tar"), { Range: "bytes=0-16383" });
    const manifest = archiveManifest(head);
    expect(manifest.Layers.length, "layers in manifest.json").toBe(healthy.length);
    for (const [i, { layer }] of healthy.entries()) {
      const hex = layer.diffId.slice("sha256:".length);
      expect(manifest.Layers[i], `layer ${i + 1} of manifest.json`).toContain(hex);
    }
  });

  it("lists a two-member layer with a small last batch", async () => {
    const twoMembers = await twoMemberLayer();
    await pushOneLayerImage("pool/split", twoMembers.layer);
    const response = await davRequest(tagUrl("pool/split", "rootfs/split/"), "PROPFIND", { Depth: "1" });
    expect(response.status, `status of the two-member layer: ${response.body.toString().slice(0, 400)}`).toBe(207);
    const note = await getBytes(tagUrl("pool/split", "rootfs/split/note.txt"));
    expect(note.toString()).toBe(twoMembers.note);
    const tail = await getBytes(tagUrl("pool/split", "rootfs/split/big.bin"), {
      Range: `bytes=${BIG_FILE_SIZE - 4096}-${BIG_FILE_SIZE - 1}`,
    });
    expect(tail.equals(twoMembers.big.subarray(BIG_FILE_SIZE - 4096)), "end of the big file").toBe(true);
    const digest = createHash("sha256").update(await getBytes(tagUrl("pool/split", "rootfs/split/big.bin"))).digest("hex");
    expect(`sha256:${digest}`).toBe(sha256Digest(twoMembers.big));
  });

  it("reads past a probe across the last batch", async () => {
    const probe = await probeLayer();
    await pushOneLayerImage("pool/probe", probe.layer);
    const base = tagUrl("pool/probe", "rootfs/probe/");
    expect(await listNames(base)).toEqual(["big.bin", "note.txt"]);
    // The filler becomes the newest blob, so the reads below go through the layer's stored index.
    expect((await getBytes(tagUrl("pool/filler", "rootfs/filler.txt"))).toString()).toBe("filler\n");
    const size = probe.big.length;
    for (const start of [0, size - 60_000, size - 20_000, size - 100]) {
      const end = size - 1;
      const part = await getBytes(`${base}big.bin`, { Range: `bytes=${start}-${end}` });
      expect(part.equals(probe.big.subarray(start)), `bytes ${start}-${end} of the probe layer`).toBe(true);
    }
    expect((await getBytes(`${base}note.txt`)).toString()).toBe(probe.note);
  });
});

/** Builds a small layer, whose reads make its blob the newest in the cache. */
async function fillerLayer(): Promise<LayerBlob> {
  const tar = await makeLayerTar([{ type: "file", path: "filler.txt", content: "filler\n" }]);
  const bytes = gzipSync(tar);
  return { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), uncompressed: tar };
}
