import { PassThrough } from "node:stream";

import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { indexLayer } from "../../src/layer/index-layer.js";
import type { LayerLimits } from "../../src/layer/layer-limits.js";
import {
  gnuLongMember,
  gzip,
  indexBlob,
  padded,
  paxMember,
  sha256,
  tarMember,
  tarOf,
  TEST_DIGEST,
  withChecksum,
  zstd,
} from "./tar-fixtures.js";

/** The 32-byte gzip of an empty tar (1024 zero bytes) that Docker writes for empty layers. */
const DOCKER_EMPTY_LAYER = Buffer.from(
  "1f8b080000096e8800ff621805a360148c5800080000ffff2eafb5ef00040000",
  "hex",
);

async function indexError(blob: Buffer, limits?: Partial<LayerLimits>): Promise<RegdavError> {
  const error = await indexBlob(blob, { limits }).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(RegdavError);
  expect((error as RegdavError).code).toBe("INVALID_LAYER");
  expect((error as RegdavError).message).toContain(TEST_DIGEST);
  return error as RegdavError;
}

function threeFiles(): Buffer {
  return tarOf(
    tarMember({ name: "one" }, "1"),
    tarMember({ name: "two" }, "2"),
    tarMember({ name: "three" }, "3"),
  );
}

describe("indexLayer empty layers", () => {
  const empties: Array<[string, Buffer, Buffer]> = [
    ["a 0-byte blob", Buffer.alloc(0), Buffer.alloc(0)],
    ["Docker's 32-byte empty gzip", DOCKER_EMPTY_LAYER, Buffer.alloc(1024)],
    ["10240 zero bytes", Buffer.alloc(10240), Buffer.alloc(10240)],
    ["a gzip of nothing", gzip(Buffer.alloc(0)), Buffer.alloc(0)],
    ["a zstd empty tar", zstd(Buffer.alloc(10240)), Buffer.alloc(10240)],
  ];
  for (const [name, blob, tar] of empties) {
    it(`gives no entries for ${name}`, async () => {
      const index = await indexBlob(blob);

      expect(index.entries).toEqual([]);
      expect(index.whiteouts).toEqual([]);
      expect(index.opaqueDirectories).toEqual([]);
      expect(index.compressedSize).toBe(blob.length);
      expect(index.uncompressedSize).toBe(tar.length);
      expect(index.diffId).toBe(sha256(tar));
    });
  }

  it("computes the Docker empty-layer diff ID", async () => {
    const index = await indexBlob(DOCKER_EMPTY_LAYER);
    expect(index.diffId).toBe(
      "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    );
  });
});

describe("indexLayer corrupt layers", () => {
  it("names the offset of a bad checksum", async () => {
    const tar = threeFiles();
    tar[1024 + 10] = 0x41;
    const error = await indexError(gzip(tar));
    expect(error.message).toContain("at offset 1024");
    expect(error.message).toContain("checksum");
  });

  it("rejects a tar cut inside a member", async () => {
    const tar = threeFiles().subarray(0, 1024 + 100);
    const error = await indexError(tar);
    expect(error.message).toContain("truncated");
  });

  it("rejects a tar cut inside a header", async () => {
    const error = await indexError(threeFiles().subarray(0, 1024 + 300));
    expect(error.message).toContain("at offset 1324");
  });

  it("accepts a tar without end-of-archive blocks", async () => {
    const index = await indexBlob(threeFiles().subarray(0, 3 * 1024));
    expect(index.entries).toHaveLength(3);
  });

  it("accepts a tar cut in the last padding", async () => {
    // umoci 0.4.7 writes such layers: the last content without padding or end-of-archive blocks.
    for (const cut of [2 * 1024 + 512 + 1, 2 * 1024 + 512 + 100]) {
      const index = await indexBlob(gzip(threeFiles().subarray(0, cut)));
      expect(index.entries.map((entry) => entry.path), `cut at ${cut}`).toEqual(["one", "two", "three"]);
      expect(index.uncompressedSize, `cut at ${cut}`).toBe(cut);
    }
  });

  it("rejects a tar cut inside the last content", async () => {
    const tar = tarOf(tarMember({ name: "one" }, "1"), tarMember({ name: "long" }, "x".repeat(600)));
    const error = await indexError(tar.subarray(0, 1024 + 599));
    expect(error.message).toContain("truncated");
  });

  it("rejects a tar cut after an extended header", async () => {
    const tar = tarOf(paxMember({ path: "name" }), tarMember({ name: "x" }, "x"));
    const error = await indexError(tar.subarray(0, 1024));
    expect(error.message).toContain("truncated");
  });

  it("rejects a header after a single zero block", async () => {
    const tar = Buffer.concat([
      tarMember({ name: "one" }, "1"),
      Buffer.alloc(512),
      tarMember({ name: "two" }, "2"),
    ]);
    const error = await indexError(tar);
    expect(error.message).toContain("at offset 1536");
  });

  it("rejects a malformed size field", async () => {
    const tar = threeFiles();
    tar.write("12x45678901\0", 1024 + 124, "latin1");
    withChecksum(tar.subarray(1024, 1536));
    const error = await indexError(tar);
    expect(error.message).toContain("at offset 1024: invalid size field");
  });

  it("rejects a malformed PAX record", async () => {
    const pax = paxMember({ path: "name" });
    pax.write("99", 512, "latin1");
    const error = await indexError(tarOf(pax, tarMember({ name: "x" }, "x")));
    expect(error.message).toContain("malformed PAX record");
  });

  it("rejects a truncated gzip stream", async () => {
    const blob = gzip(threeFiles());
    const error = await indexError(blob.subarray(0, blob.length - 10));
    expect(error.message).toContain("gzip decompression failed");
  });

  it("names gzip failing mid-stream", async () => {
    const blob = gzip(threeFiles());
    blob[3] = 0xe0; // reserved bits of the gzip header flags
    const source = new PassThrough();
    const pass = indexLayer(source, { digest: TEST_DIGEST });
    source.write(blob);

    const error = await pass.then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(RegdavError);
    expect((error as RegdavError).message).toContain("gzip decompression failed");
    expect((error as RegdavError).message).toContain("unknown header flags set");
  });

  it("rejects a corrupt zstd frame header", async () => {
    const blob = zstd(threeFiles());
    blob[4] = 0x08; // the reserved bit of the frame header descriptor
    const error = await indexError(blob);
    expect(error.message).toContain("zstd decompression failed");
  });

  it("rejects corrupt zstd blocks", async () => {
    const blob = zstd(threeFiles());
    blob.fill(0xff, 12, 40);
    await indexError(blob);
  });

  it("rejects a GNU sparse map that misses stored bytes", async () => {
    // An S header with no map entries, but one stored byte.
    const sparse = tarMember({ name: "sparse", typeflag: "S", magic: "gnu", size: 1 }, "s");
    const error = await indexError(tarOf(sparse));
    expect(error.message).toContain("GNU sparse map covers 0 bytes, but the member stores 1");
  });

  const paxSparseCases: Array<[string, Record<string, string>, string]> = [
    ["overlapping entries", { "GNU.sparse.size": "100", "GNU.sparse.map": "0,8,4,2" }, "overlaps the one before it"],
    ["an entry past the size", { "GNU.sparse.size": "10", "GNU.sparse.map": "5,10" }, "ends at 15, past the file's size of 10"],
    ["more stored bytes than mapped", { "GNU.sparse.size": "100", "GNU.sparse.map": "0,4" }, "covers 4 bytes, but the member stores 10"],
    ["an odd map", { "GNU.sparse.size": "100", "GNU.sparse.map": "0,4,9" }, "needs pairs"],
    ["a wrong block count", { "GNU.sparse.size": "100", "GNU.sparse.numblocks": "2", "GNU.sparse.map": "0,10" }, "GNU.sparse.numblocks is 2"],
    ["an unknown version", { "GNU.sparse.major": "2", "GNU.sparse.minor": "0" }, "unknown GNU sparse format version 2.0"],
    ["a missing size", { "GNU.sparse.map": "0,10" }, 'invalid GNU sparse size ""'],
  ];
  for (const [name, records, problem] of paxSparseCases) {
    it(`rejects a PAX sparse file with ${name}`, async () => {
      const tar = tarOf(paxMember(records), tarMember({ name: "sparse", size: 10 }, "0123456789"));
      const error = await indexError(tar);
      expect(error.message).toContain(problem);
    });
  }

  it("rejects a format 1.0 map longer than the data", async () => {
    const records = { "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "100" };
    // The map claims 3 entries, but the data ends after one block.
    const tar = tarOf(paxMember(records), tarMember({ name: "sparse", size: 512 }, padded(Buffer.from("3\n0\n"))));
    const error = await indexError(tar);
    expect(error.message).toContain("GNU sparse map does not end within the member's data");
  });

  it("rejects PAX 0.0 records out of order", async () => {
    const records: [string, string][] = [
      ["GNU.sparse.size", "100"],
      ["GNU.sparse.offset", "0"],
      ["GNU.sparse.offset", "5"],
    ];
    const tar = tarOf(paxMember(records), tarMember({ name: "sparse" }));
    const error = await indexError(tar);
    expect(error.message).toContain("GNU.sparse.offset where GNU.sparse.numbytes was expected");
  });
});

describe("indexLayer limits", () => {
  it("rejects more entries than maxEntries", async () => {
    const error = await indexError(threeFiles(), { maxEntries: 2 });
    expect(error.message).toContain("maxEntries");
    await expect(indexBlob(threeFiles(), { limits: { maxEntries: 3 } })).resolves.toBeDefined();
  });

  it("rejects names longer than maxPathBytes", async () => {
    const tar = tarOf(paxMember({ path: "p".repeat(65) }), tarMember({ name: "x" }, "x"));
    const error = await indexError(tar, { maxPathBytes: 64 });
    expect(error.message).toContain("65 bytes exceeds the maxPathBytes limit of 64");
  });

  it("rejects oversized GNU long names", async () => {
    const tar = tarOf(gnuLongMember("L", "n".repeat(100)), tarMember({ name: "x" }, "x"));
    const error = await indexError(tar, { maxPathBytes: 64 });
    expect(error.message).toContain("GNU long name of 101 bytes");
  });

  it("rejects a PAX header over maxPaxHeaderSize", async () => {
    const tar = tarOf(paxMember({ comment: "c".repeat(5000) }), tarMember({ name: "x" }, "x"));
    const error = await indexError(tar, { maxPaxHeaderSize: 4096 });
    expect(error.message).toContain("PAX extended header");
  });

  it("stops a decompression bomb at maxUncompressedSize", async () => {
    const bomb = gzip(tarOf(tarMember({ name: "zeros" }, Buffer.alloc(8 * 1024 * 1024))));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const error = await indexError(bomb, { maxUncompressedSize: 1024 * 1024 });
    expect(error.message).toContain("maxUncompressedSize limit of 1048576 bytes");
  });
});
