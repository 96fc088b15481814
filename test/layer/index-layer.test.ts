import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";

import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";

import { repoRoot } from "../harness/tools.js";

import { indexLayer } from "../../src/layer/index-layer.js";
import { LAYER_INDEX_VERSION } from "../../src/layer/layer-index.js";
import {
  contentOf,
  entryAt,
  gnuLongMember,
  gzip,
  indexBlob,
  packTar,
  paxMember,
  sha256,
  tarMember,
  tarOf,
  TEST_DIGEST,
  zstd,
  zstdSkippableFrame,
} from "./tar-fixtures.js";

const FIXTURES = join(repoRoot, "../shared/fixtures/regclient");

async function sampleTar(): Promise<Buffer> {
  return packTar([
    { header: { name: "etc/", type: "directory", mode: 0o755 } },
    { header: { name: "etc/os-release", mode: 0o644 }, content: "ID=test\n" },
    { header: { name: "usr/bin/tool", mode: 0o755 }, content: "x".repeat(1500) },
    { header: { name: "empty" }, content: "" },
    { header: { name: "usr/bin/link", type: "symlink", linkname: "tool" } },
    { header: { name: "a".repeat(120) + "/" + "b".repeat(90) }, content: "long ustar name" },
  ]);
}

describe("indexLayer", () => {
  it("records fields and offsets of a plain tar", async () => {
    const tar = await sampleTar();
    const index = await indexBlob(tar);

    expect(index.version).toBe(LAYER_INDEX_VERSION);
    expect(index.digest).toBe(TEST_DIGEST);
    expect(index.compression).toBe("none");
    expect(index.diffId).toBe(sha256(tar));
    expect(index.compressedSize).toBe(tar.length);
    expect(index.uncompressedSize).toBe(tar.length);
    expect(index.entries.map((entry) => entry.path)).toEqual([
      "etc",
      "etc/os-release",
      "usr/bin/tool",
      "empty",
      "usr/bin/link",
      "a".repeat(120) + "/" + "b".repeat(90),
    ]);

    const release = entryAt(index, "etc/os-release");
    expect(release).toMatchObject({
      type: "file",
      size: 8,
      mode: 0o644,
      modified: 1_650_000_000_000,
    });
    expect(release?.dataOffset).toBe(2 * 512);
    expect(contentOf(tar, release)).toBe("ID=test\n");
    expect(contentOf(tar, entryAt(index, "usr/bin/tool"))).toBe("x".repeat(1500));
    expect(entryAt(index, "usr/bin/tool")?.dataOffset).toBe(4 * 512);
    const longName = "a".repeat(120) + "/" + "b".repeat(90);
    expect(contentOf(tar, entryAt(index, longName))).toBe("long ustar name");
  });

  it("records folders and symlinks without content", async () => {
    const index = await indexBlob(await sampleTar());

    expect(entryAt(index, "etc")).toEqual({
      path: "etc",
      type: "directory",
      size: 0,
      mode: 0o755,
      modified: 1_650_000_000_000,
    });
    expect(entryAt(index, "usr/bin/link")).toMatchObject({
      type: "symlink",
      size: 0,
      linkTarget: "tool",
    });
    expect(entryAt(index, "usr/bin/link")?.dataOffset).toBeUndefined();
    expect(entryAt(index, "empty")).toMatchObject({ type: "file", size: 0 });
  });

  const compressions: Array<{ name: string; compress: (tar: Buffer) => Buffer }> = [
    { name: "gzip", compress: (tar) => gzip(tar) },
    {
      name: "multi-member gzip",
      compress: (tar) =>
        Buffer.concat([
          gzip(tar.subarray(0, 1000)),
          gzip(tar.subarray(1000, 3000)),
          gzip(tar.subarray(3000)),
        ]),
    },
    { name: "zstd", compress: (tar) => zstd(tar) },
    {
      name: "multi-frame zstd",
      compress: (tar) => Buffer.concat([zstd(tar.subarray(0, 700)), zstd(tar.subarray(700))]),
    },
    {
      name: "zstd after a skippable frame",
      compress: (tar) => Buffer.concat([zstdSkippableFrame(Buffer.from("meta")), zstd(tar)]),
    },
  ];
  for (const { name, compress } of compressions) {
    it(`indexes ${name} like the plain tar`, async () => {
      const tar = await sampleTar();
      const blob = compress(tar);
      const plain = await indexBlob(tar);
      const index = await indexBlob(blob, { chunkSize: 333 });

      expect(index.compression).toBe(name.includes("gzip") ? "gzip" : "zstd");
      expect(index.compressedSize).toBe(blob.length);
      expect(index.uncompressedSize).toBe(tar.length);
      expect(index.diffId).toBe(sha256(tar));
      expect(index.entries).toEqual(plain.entries);
    });
  }

  it("gives the same offsets for any chunk size", async () => {
    const tar = await sampleTar();
    const reference = await indexBlob(tar);
    for (const chunkSize of [1, 7, 511, 512, 513, 4096]) {
      const index = await indexBlob(tar, { chunkSize });
      expect(index.entries, `chunk size ${chunkSize}`).toEqual(reference.entries);
    }
  });

  it("copies the uncompressed tar to writeUncompressed", async () => {
    const tar = await sampleTar();
    const copy = new PassThrough();
    const chunks: Buffer[] = [];
    copy.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => copy.on("end", resolve));

    await indexBlob(zstd(tar), { writeUncompressed: copy });
    await ended;
    expect(Buffer.concat(chunks).equals(tar)).toBe(true);
  });

  it("waits for a slow writeUncompressed", async () => {
    const tar = tarOf(tarMember({ name: "big" }, Buffer.alloc(600_000, 7)));
    const chunks: Buffer[] = [];
    let maxBuffered = 0;
    const slow: Writable = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        maxBuffered = Math.max(maxBuffered, slow.writableLength);
        setTimeout(callback, 1);
      },
    });

    const index = await indexBlob(gzip(tar), { writeUncompressed: slow });
    expect(slow.writableFinished).toBe(true);
    expect(Buffer.concat(chunks).equals(tar)).toBe(true);
    expect(index.uncompressedSize).toBe(tar.length);
    // Without backpressure, the whole 600 KB would be queued at once.
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024);
  });

  it("agrees with tar-stream on PAX and GNU offsets", async () => {
    const tar = tarOf(
      paxMember({ path: "pax/ünïcode name.txt", mtime: "1650000001.5" }),
      tarMember({ name: "ignored" }, "pax content"),
      gnuLongMember("L", "gnu/" + "n".repeat(300)),
      tarMember({ name: "short", magic: "gnu" }, "gnu content"),
      tarMember({ name: "plain" }, "p".repeat(513)),
    );
    const index = await indexBlob(tar);
    const offsets = await tarStreamOffsets(tar);

    expect(index.entries.map((entry) => [entry.path, entry.dataOffset])).toEqual(offsets);
    expect(contentOf(tar, entryAt(index, "pax/ünïcode name.txt"))).toBe("pax content");
    expect(contentOf(tar, entryAt(index, "gnu/" + "n".repeat(300)))).toBe("gnu content");
  });

  it("indexes the regclient fixture layers", async () => {
    const tar = readFileSync(`${FIXTURES}/layer.tar`);
    const index = await indexBlob(tar);

    expect(index.diffId).toBe(sha256(tar));
    const paths = index.entries.map((entry) => entry.path);
    expect(paths).toEqual(["layer1.txt", "layer2.txt", "layer3.txt"]);
    expect(index.entries.map((entry) => contentOf(tar, entry))).toEqual(["1\n", "2\n", "3\n"]);
    expect(index.whiteouts).toEqual([]);
  });

  it("indexes the regclient whiteout fixture", async () => {
    const tar = readFileSync(`${FIXTURES}/layer-wh.tar`);
    const index = await indexBlob(gzip(tar));

    expect(index.entries.map((entry) => entry.path)).toEqual(["layer1.txt", "layer3.txt", "exdir"]);
    expect(index.whiteouts).toEqual(["layer2.txt"]);
    expect(index.opaqueDirectories).toEqual(["exdir"]);
    expect(contentOf(tar, entryAt(index, "layer3.txt"))).toBe("3\n");
  });

  it("fails when writeUncompressed fails", async () => {
    const failure = new Error("no space left on device");
    const broken = new Writable({
      write(_chunk, _encoding, callback) {
        setTimeout(() => callback(failure), 1);
      },
    });
    const tar = tarOf(tarMember({ name: "big" }, Buffer.alloc(300_000, 1)));

    await expect(indexBlob(gzip(tar), { writeUncompressed: broken })).rejects.toBe(failure);
  });

  it("fails when writeUncompressed is destroyed", async () => {
    const stalled = new Writable({ highWaterMark: 1, write: () => undefined });
    const tar = tarOf(tarMember({ name: "big" }, Buffer.alloc(300_000, 1)));
    const pass = indexBlob(tar, { writeUncompressed: stalled });
    setTimeout(() => stalled.destroy(), 5);

    await expect(pass).rejects.toThrow("closed before the pass ended");
  });

  it("passes on an error of the compressed stream", async () => {
    const source = new PassThrough();
    const failure = new Error("digest mismatch from the source");
    const pass = indexLayer(source, { digest: TEST_DIGEST });
    source.write(gzip(await sampleTar()).subarray(0, 100));
    setTimeout(() => source.destroy(failure), 5);

    await expect(pass).rejects.toBe(failure);
  });
});

/** Lists [name, content offset] of every member as tar-stream parses it. */
async function tarStreamOffsets(tar: Buffer): Promise<Array<[string, number]>> {
  const parser = extract();
  const offsets: Array<[string, number]> = [];
  const done = new Promise<void>((resolve, reject) => {
    parser.on("entry", (header, stream, next) => {
      // tar-stream reports the offset of the header; the content follows it.
      offsets.push([header.name, stream.offset + 512]);
      stream.on("end", () => next());
      stream.resume();
    });
    parser.on("finish", () => resolve());
    parser.on("error", reject);
  });
  parser.end(tar);
  await done;
  return offsets;
}
