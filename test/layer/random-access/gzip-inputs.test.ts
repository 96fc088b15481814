import { constants, deflateRawSync, gzipSync, inflateRawSync } from "node:zlib";

import { describe, expect, it } from "vitest";

import { crc32 } from "../../../src/layer/random-access/crc32.js";
import { emptyBlockOfBitLength } from "../../../src/layer/random-access/deflate-preamble.js";
import type {
  GzipCheckpointIndex,
} from "../../../src/layer/random-access/gzip-checkpoint-index.js";
import { bitsAt, hasTool, layerLikeData, runTool, seededRandom } from "./fixtures.js";
import { BLOCK_INFLATERS, expectRangeMatches, indexGzip } from "./gzip-helpers.js";

interface HeaderFields {
  name?: string;
  comment?: string;
  extra?: Buffer;
  headerCrc?: boolean;
}

/** Builds one gzip member by hand, with the optional header fields of RFC 1952. */
function gzipMember(data: Buffer, fields: HeaderFields = {}, level = 6): Buffer {
  let flags = 0;
  if (fields.headerCrc) flags |= 0x02;
  if (fields.extra) flags |= 0x04;
  if (fields.name) flags |= 0x08;
  if (fields.comment) flags |= 0x10;
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0x78, 0x56, 0x34, 0x12, 0, 3])];
  if (fields.extra) {
    const length = Buffer.alloc(2);
    length.writeUInt16LE(fields.extra.length);
    parts.push(length, fields.extra);
  }
  if (fields.name) parts.push(Buffer.from(fields.name + "\0", "latin1"));
  if (fields.comment) parts.push(Buffer.from(fields.comment + "\0", "latin1"));
  if (fields.headerCrc) {
    const headerCrc = Buffer.alloc(2);
    headerCrc.writeUInt16LE(crc32(Buffer.concat(parts), 0) & 0xffff);
    parts.push(headerCrc);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data, 0), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([...parts, deflateRawSync(data, { level }), trailer]);
}

/** BTYPE of the block at each checkpoint: 0 stored, 1 fixed Huffman, 2 dynamic Huffman. */
function blockTypes(index: GzipCheckpointIndex, blob: Buffer): Set<number> {
  return new Set(index.checkpoints.map((point) => bitsAt(blob, point.compressedBitOffset + 1, 2)));
}

async function expectRandomReads(
  index: GzipCheckpointIndex,
  blob: Buffer,
  data: Buffer,
  count = 60,
) {
  const random = seededRandom(data.length);
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(random() * 150_000);
    const offset = Math.floor(random() * (data.length - length));
    await expectRangeMatches(index, blob, data, offset, length);
  }
  await expectRangeMatches(index, blob, data, 0, data.length);
}

describe.each(BLOCK_INFLATERS)("gzip inputs, %s inflater", (inflater) => {
  it("reads across gzip members", async () => {
    const pieces = [
      layerLikeData(700_000, 21),
      Buffer.alloc(0),
      layerLikeData(900_000, 22),
      layerLikeData(10, 23),
    ];
    const blob = Buffer.concat(pieces.map((piece) => gzipSync(piece)));
    const data = Buffer.concat(pieces);
    const { index, output } = await indexGzip(blob, undefined, 0, inflater);
    expect(output.equals(data)).toBe(true);
    expect(index.checkpoints.filter((point) => point.memberStart).length).toBe(4);
    await expectRandomReads(index, blob, data);
    await expectRangeMatches(index, blob, data, 699_990, 20);
  });

  it("accepts zero padding after the last member", async () => {
    const data = layerLikeData(200_000, 24);
    const blob = Buffer.concat([gzipSync(data), Buffer.alloc(1000)]);
    const { index } = await indexGzip(blob, undefined, 0, inflater);
    expect(index.compressedSize).toBe(blob.length);
    await expectRangeMatches(index, blob, data, data.length - 5000, 5000);
  });

  it("skips FEXTRA, FNAME, FCOMMENT and FHCRC", async () => {
    const data = layerLikeData(200_000, 25);
    const fields = {
      name: "layer.tar",
      comment: "built by hand",
      extra: Buffer.from("AB\x02\x00xy"),
      headerCrc: true,
    };
    const withEmptyExtra = gzipMember(data, { extra: Buffer.alloc(0) });
    const blob = Buffer.concat([gzipMember(data, fields), withEmptyExtra]);
    const both = Buffer.concat([data, data]);
    for (const chunkSize of [0, 1, 3]) {
      const { index, output } = await indexGzip(blob, undefined, chunkSize, inflater);
      expect(output.equals(both)).toBe(true);
      await expectRandomReads(index, blob, both, 10);
    }
  });

  it("rejects a wrong FHCRC", async () => {
    const blob = gzipMember(Buffer.from("data"), { name: "x", headerCrc: true });
    blob[12] = blob[12]! ^ 0xff;
    await expect(indexGzip(blob, undefined, 0, inflater)).rejects.toThrow(/gzip header CRC mismatch/);
  });

  it("reads stored blocks", async () => {
    const data = layerLikeData(1_500_000, 26);
    const blob = gzipSync(data, { level: 0 });
    const { index } = await indexGzip(blob, undefined, 0, inflater);
    expect(blockTypes(index, blob)).toEqual(new Set([0]));
    await expectRandomReads(index, blob, data);
  });

  it("reads fixed Huffman blocks", async () => {
    const data = layerLikeData(1_500_000, 27);
    const blob = gzipSync(data, { strategy: constants.Z_FIXED });
    const { index } = await indexGzip(blob, undefined, 0, inflater);
    // zlib still stores a block that no code would shrink, such as random bytes.
    const types = blockTypes(index, blob);
    expect(types.has(1)).toBe(true);
    expect(types.has(2)).toBe(false);
    expect(index.checkpoints.some((point) => point.compressedBitOffset % 8 !== 0)).toBe(true);
    await expectRandomReads(index, blob, data);
  });

  it("reads dynamic blocks mixed with stored ones", async () => {
    const data = layerLikeData(3_000_000, 28);
    const blob = gzipSync(data, { level: 9 });
    const { index } = await indexGzip(blob, undefined, 0, inflater);
    const types = blockTypes(index, blob);
    expect(types.has(2)).toBe(true);
    expect(types.has(0)).toBe(true);
    await expectRandomReads(index, blob, data);
  });

  it("reads the output of the gzip command", async () => {
    const data = layerLikeData(2_000_000, 29);
    const blob = runTool("gzip", ["-c", "-6"], data);
    const { index } = await indexGzip(blob, undefined, 0, inflater);
    await expectRandomReads(index, blob, data);
  });

  it("reads the output of pigz", async () => {
    // pigz comes with `bash test/run-all.sh`; a missing pigz fails here by name.
    expect(hasTool("pigz"), "pigz is not installed: apt-get install pigz").toBe(true);
    const data = layerLikeData(3_000_000, 30);
    for (const args of [["-c", "-b", "32", "-p", "2"], ["-c", "-i", "-b", "64"]]) {
      const blob = runTool("pigz", args, data);
      const { index, output } = await indexGzip(blob, undefined, 0, inflater);
      expect(output.equals(data)).toBe(true);
      await expectRandomReads(index, blob, data, 30);
    }
  });
});

describe("deflate preamble", () => {
  it("has the requested bit length", () => {
    for (let k = 1; k < 8; k++) {
      const preamble = emptyBlockOfBitLength(k);
      expect(preamble.bitLength % 8).toBe(k);
      expect(preamble.bytes.length).toBe(Math.ceil(preamble.bitLength / 8));
    }
  });

  it("inflates to nothing before a final block", async () => {
    for (let k = 1; k < 8; k++) {
      const { bytes } = emptyBlockOfBitLength(k);
      // A final fixed block holding only end-of-block, from bit k of the last byte:
      // BFINAL 1, BTYPE 01 (low bit first), then the 7-bit code 0000000.
      const stream = Buffer.concat([bytes, Buffer.alloc(3)]);
      const finalBlock = 0b0000000_01_1;
      for (let bit = 0; bit < 10; bit++) {
        const position = (bytes.length - 1) * 8 + k + bit;
        stream[position >> 3]! |= ((finalBlock >> bit) & 1) << (position & 7);
      }
      expect(inflateRawSync(stream).length).toBe(0);
    }
  });
});
