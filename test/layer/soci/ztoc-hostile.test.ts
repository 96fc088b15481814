import { createHash } from "node:crypto";

import { Builder } from "flatbuffers";
import { beforeAll, describe, expect, it } from "vitest";

import { parseZtoc, ZtocError } from "../../../src/layer/soci/ztoc.js";
import { gzip, makeLayerTar, type TarEntry } from "../../harness/layer-tar.js";
import { buildZtoc, encodeGzipZinfo, encodeSharedEntryToc, type WrittenZtoc, type ZtocPlan } from "../../harness/ztoc-writer.js";

const SPAN_SIZE = 16 * 1024;
const limits = { maxEntries: 1000 };

/** Hex text: it compresses into Huffman blocks of a few KiB, which end at any bit of a byte. */
function text(lines: number): string {
  return Array.from({ length: lines }, (_, i) => createHash("sha256").update(String(i)).digest("hex") + "\n").join("");
}

const entries: TarEntry[] = [
  { type: "directory", path: "etc" },
  { type: "file", path: "etc/hello.txt", content: "hello\n" },
  { type: "file", path: "etc/passwd", content: "root:x:0:0::/root:/bin/sh\n" },
  { type: "file", path: "data/text.txt", content: text(5000) },
  { type: "symlink", path: "etc/link", target: "hello.txt" },
];

/** Expects parseZtoc to throw a ZtocError whose message matches `message`. */
function expectRejected(bytes: Buffer, message: RegExp, parseLimits = limits): void {
  let caught: unknown;
  try {
    parseZtoc(bytes, parseLimits);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ZtocError);
  expect((caught as Error).message).toMatch(message);
}

describe("hostile zTOC", () => {
  let layer: Buffer;
  let written: WrittenZtoc;
  let small: WrittenZtoc;
  let smallTar: Buffer;

  /** Writes the layer's zTOC after `mutate` edits the plan. */
  const mutated = (mutate: (plan: ZtocPlan) => void) => buildZtoc(layer, { spanSize: SPAN_SIZE, mutate }).bytes;

  beforeAll(async () => {
    layer = gzip(await makeLayerTar(entries));
    written = buildZtoc(layer, { spanSize: SPAN_SIZE });
    // An uncompressed layer's zinfo has no windows, so its zTOC is about 1 KB.
    smallTar = await makeLayerTar(entries.slice(0, 3));
    small = buildZtoc(smallTar, { spanSize: SPAN_SIZE });
  });

  it("test zTOC is valid", () => {
    expect(written.ztoc.checkpoints.length).toBeGreaterThan(4);
    expect(written.ztoc.checkpoints.some((checkpoint) => checkpoint.bits !== 0)).toBe(true);
    expect(parseZtoc(written.bytes, limits).files).toHaveLength(entries.length);
    expect(small.bytes.length).toBeLessThan(1500);
    expect(parseZtoc(small.bytes, limits).files).toHaveLength(3);
  });

  it("truncated zTOC is rejected at every length", () => {
    for (const bytes of [written.bytes, small.bytes]) {
      const lengths = new Set([0, 1, 3, 4, 5, 7, 8, 12, 16, 64, bytes.length - 1, bytes.length - 4, bytes.length - 5]);
      for (let length = 0; length < bytes.length; length += 97) lengths.add(length);
      for (const length of lengths) {
        let caught: unknown;
        try {
          parseZtoc(bytes.subarray(0, length), limits);
        } catch (error) {
          caught = error;
        }
        expect(caught, `length ${length} of ${bytes.length}`).toBeInstanceOf(ZtocError);
      }
    }
  });

  it("short buffer names the root offset", () => {
    expectRejected(Buffer.alloc(3), /the buffer has 3 bytes, too few for the root table offset/);
  });

  it("root offset out of range", () => {
    const bytes = Buffer.from(small.bytes);
    bytes.writeUInt32LE(bytes.length, 0);
    expectRejected(bytes, new RegExp(`Ztoc: root table offset ${bytes.length} is outside the ${bytes.length}-byte buffer`));
    bytes.writeUInt32LE(0, 0);
    expectRejected(bytes, /Ztoc: root table offset 0 is outside/);
  });

  it("vtable out of range", () => {
    const bytes = Buffer.from(small.bytes);
    const root = small.layout.rootTable;
    bytes.writeInt32LE(root + 100, root);
    expectRejected(bytes, /Ztoc: vtable at byte -100 of the table at byte \d+ is outside the \d+-byte buffer/);
    bytes.writeInt32LE(-bytes.length, root);
    expectRejected(bytes, /Ztoc: vtable at byte \d+ of the table at byte \d+ is outside/);
  });

  it("vtable size out of range", () => {
    const bytes = Buffer.from(small.bytes);
    const vtable = small.layout.rootTable - bytes.readInt32LE(small.layout.rootTable);
    bytes.writeUInt16LE(0xfffe, vtable);
    expectRejected(bytes, /Ztoc: invalid vtable size 65534 at byte/);
    bytes.writeUInt16LE(3, vtable);
    expectRejected(bytes, /Ztoc: invalid vtable size 3 at byte/);
  });

  it("field offset outside its table", () => {
    const bytes = Buffer.from(small.bytes);
    const vtable = small.layout.rootTable - bytes.readInt32LE(small.layout.rootTable);
    bytes.writeUInt16LE(0xfff0, vtable + 4); // slot 0: version
    expectRejected(bytes, /Ztoc.version: field offset 65520 is outside the table's \d+ bytes/);
  });

  it("offset to a string out of range", () => {
    const bytes = Buffer.from(small.bytes);
    const vtable = small.layout.rootTable - bytes.readInt32LE(small.layout.rootTable);
    const field = small.layout.rootTable + bytes.readUInt16LE(vtable + 4);
    bytes.writeUInt32LE(0x7fff_0000, field);
    expectRejected(bytes, /Ztoc.version: offset 2147418112 at byte \d+ points outside the \d+-byte buffer/);
  });

  it("missing tables are named", () => {
    const bytes = Buffer.from(small.bytes);
    const vtable = small.layout.rootTable - bytes.readInt32LE(small.layout.rootTable);
    bytes.writeUInt16LE(0, vtable + 4 + 2 * 5); // slot 5: compression_info
    expectRejected(bytes, /Ztoc.compression_info is missing/);
  });

  it("string length beyond the end", () => {
    const bytes = Buffer.from(small.bytes);
    bytes.writeUInt32LE(0xffff_ff00, small.layout.version);
    expectRejected(bytes, /Ztoc.version: string of 4294967040 bytes at byte \d+ runs past the end of the \d+-byte buffer/);
  });

  it("string without its NUL terminator", () => {
    const bytes = Buffer.from(small.bytes);
    bytes[small.layout.version + 4 + 3] = 0x41;
    expectRejected(bytes, /Ztoc.version: string at byte \d+ is not NUL-terminated/);
  });

  it("huge vector count fails before allocating", () => {
    const bytes = Buffer.from(small.bytes);
    expect(bytes.length).toBeLessThan(1500);
    bytes.writeUInt32LE(100_000_000, small.layout.checkpoints);
    expectRejected(bytes, /Ztoc.compression_info.checkpoints: vector of 100000000 elements at byte \d+ needs 100000000 bytes, past the end/);

    const files = Buffer.from(small.bytes);
    files.writeUInt32LE(100_000_000, small.layout.metadata);
    const noEntryLimit = { maxEntries: 2 ** 32 };
    expectRejected(files, /Ztoc.toc.metadata: vector of 100000000 elements at byte \d+ needs 400000000 bytes/, noEntryLimit);

    const digests = Buffer.from(small.bytes);
    digests.writeUInt32LE(0xffff_ffff, small.layout.spanDigests);
    expectRejected(digests, /span_digests: vector of 4294967295 elements/);
  });

  it("negative and huge longs are rejected", () => {
    const cases: [string, (plan: ZtocPlan) => void, RegExp][] = [
      ["negative size", (plan) => (plan.files[1]!.size = -1n), /Ztoc.toc.metadata\[1\].uncompressed_size is -1: expected 0 to 9007199254740991/],
      ["size of 2^53", (plan) => (plan.files[1]!.size = 2n ** 53n), /uncompressed_size is 9007199254740992: expected 0 to/],
      ["negative offset", (plan) => (plan.files[2]!.contentOffset = -512n), /metadata\[2\].uncompressed_offset is -512/],
      ["minimum int64 mode", (plan) => (plan.files[0]!.mode = -(2n ** 63n)), /metadata\[0\].mode is -9223372036854775808/],
      ["huge device number", (plan) => (plan.files[0]!.deviceMajor = 2n ** 62n), /metadata\[0\].devmajor is 4611686018427387904/],
      ["negative archive size", (plan) => (plan.compressedSize = -5n), /Ztoc.compressed_archive_size is -5/],
      ["huge tar size", (plan) => (plan.uncompressedSize = 2n ** 60n), /Ztoc.uncompressed_archive_size is 1152921504606846976/],
      ["huge checkpoint in", (plan) => (plan.checkpoints[1]!.in = 2n ** 53n + 1n), /checkpoints\[1\].in is 9007199254740993: expected at most/],
      ["huge span size", (plan) => (plan.spanSize = 2n ** 63n), /span size is 9223372036854775808/],
    ];
    for (const [name, mutate, message] of cases) {
      expect(() => parseZtoc(mutated(mutate), limits), name).toThrow(message);
    }
  });

  it("checkpoint bits 8 is rejected", () => {
    const bytes = mutated((plan) => (plan.checkpoints[2]!.bits = 8));
    expectRejected(bytes, /Ztoc.compression_info.checkpoints\[2\].bits is 8: expected 0 to 7/);
  });

  it("descending checkpoints are rejected", () => {
    const swapped = mutated((plan) => {
      const [second, third] = [plan.checkpoints[2]!, plan.checkpoints[3]!];
      plan.checkpoints[2] = third;
      plan.checkpoints[3] = second;
    });
    expectRejected(swapped, /checkpoints: checkpoint 3 \(in \d+, bits \d, out \d+\) is not after checkpoint 2/);

    const sameBit = mutated((plan) => (plan.checkpoints[2] = { ...plan.checkpoints[1]!, out: plan.checkpoints[2]!.out }));
    expectRejected(sameBit, /checkpoint 2 .* is not after checkpoint 1/);

    const outBackwards = mutated((plan) => (plan.checkpoints[3]!.out = BigInt(plan.checkpoints[2]!.out) - 1n));
    expectRejected(outBackwards, /checkpoint 3 .* is not after checkpoint 2/);

    const notAtStart = mutated((plan) => (plan.checkpoints[0]!.out = 7));
    expectRejected(notAtStart, /checkpoints\[0\].out is 7: checkpoint 0 must be at the start of the tar/);
  });

  it("checkpoint past the blob is rejected", () => {
    const bytes = mutated((plan) => {
      const last = plan.checkpoints[plan.checkpoints.length - 1]!;
      last.in = layer.length + 1;
    });
    expectRejected(bytes, new RegExp(`\\.in is ${layer.length + 1}, outside the ${layer.length}-byte blob`));
  });

  it("span digest count mismatch", () => {
    expectRejected(
      mutated((plan) => plan.spanDigests.pop()),
      new RegExp(`${written.ztoc.checkpoints.length - 1} span digests, but max_span_id ${written.ztoc.checkpoints.length - 1} means`),
    );
    const count = written.ztoc.checkpoints.length;
    const fewerCheckpoints = mutated((plan) => plan.checkpoints.pop());
    expectRejected(fewerCheckpoints, new RegExp(`checkpoints: ${count - 1} checkpoints, but Ztoc.compression_info lists ${count} spans`));
  });

  it("malformed span digest", () => {
    const cases = ["sha256:xyz", `sha512:${"a".repeat(64)}`, `sha256:${"A".repeat(64)}`, ""];
    for (const digest of cases) {
      const bytes = mutated((plan) => (plan.spanDigests[1] = digest));
      expectRejected(bytes, new RegExp(`span_digests\\[1\\] is ${JSON.stringify(digest)}: expected sha256: and 64 lowercase hex digits`));
    }
  });

  it("zinfo blob of the wrong size", () => {
    const blob = encodeGzipZinfo(written.plan);
    const cases: [Buffer, RegExp][] = [
      [blob.subarray(0, blob.length - 1), /checkpoints: \d+ bytes do not fit the count of \d+ checkpoints/],
      [blob.subarray(0, 11), /checkpoints: 11 bytes, too few for the 12-byte gzip zinfo header/],
      [Buffer.concat([blob, Buffer.alloc(32785)]), /do not fit the count/],
    ];
    for (const [checkpointsBlob, message] of cases) {
      expectRejected(mutated((plan) => (plan.checkpointsBlob = checkpointsBlob)), message);
    }
    const empty = Buffer.alloc(12);
    empty.writeUInt32LE(16384, 4);
    const noCheckpoints = mutated((plan) => {
      plan.checkpointsBlob = empty;
      plan.maxSpanId = -1;
      plan.spanDigests = [];
    });
    expectRejected(noCheckpoints, /checkpoints: no checkpoints/);
  });

  it("unknown type names its value", () => {
    expectRejected(
      mutated((plan) => (plan.files[2]!.type = "socket")),
      /Ztoc.toc.metadata\[2\].type is "socket" for "etc\/passwd": expected one of reg, dir, symlink, hardlink, char, block, fifo/,
    );
  });

  it("too many entries", () => {
    expectRejected(written.bytes, /Ztoc.toc.metadata lists 5 files, more than the limit of 4/, { maxEntries: 4 });
    expect(parseZtoc(written.bytes, { maxEntries: 5 }).files).toHaveLength(5);
  });

  it("unsupported version", () => {
    for (const version of ["1.0", "0.8", ""]) {
      expectRejected(mutated((plan) => (plan.version = version)), new RegExp(`unsupported zTOC version ${JSON.stringify(version)}: expected "0.9"`));
    }
  });

  it("unknown compression algorithm", () => {
    expectRejected(mutated((plan) => (plan.compressionAlgorithm = 3)), /compression_algorithm is 3: expected 1 \(gzip\) or 2 \(uncompressed\)/);
  });

  it("bad names are rejected", () => {
    expectRejected(mutated((plan) => (plan.files[1]!.name = "etc/a\0b")), /metadata\[1\].name contains a NUL byte at index 5/);
    expectRejected(mutated((plan) => (plan.files[1]!.name = "")), /metadata\[1\].name is empty/);
    expectRejected(mutated((plan) => (plan.files[4]!.linkName = "x\0")), /metadata\[4\].linkname contains a NUL byte/);

    const bytes = Buffer.from(written.bytes);
    const at = bytes.indexOf("etc/passwd", written.layout.metadata);
    bytes[at + 4] = 0xff;
    expectRejected(bytes, /metadata\[2\].name is not valid UTF-8: "etc\/\u00ffasswd"/);
  });

  it("bad xattr keys are rejected", () => {
    expectRejected(mutated((plan) => (plan.files[1]!.xattrs = [["", "v"]])), /xattrs\[0\].key "" is not a PAX keyword/);
    expectRejected(mutated((plan) => (plan.files[1]!.xattrs = [["a=b", "v"]])), /xattrs\[0\].key "a=b" is not a PAX keyword/);
  });

  it("content outside the tar is rejected", () => {
    const tarSize = written.ztoc.uncompressedSize;
    expectRejected(
      mutated((plan) => (plan.files[3]!.size = tarSize)),
      new RegExp(`metadata\\[3\\]: content of "data/text.txt" at \\d+ \\+ ${tarSize} bytes ends past the ${tarSize}-byte tar`),
    );
    expectRejected(mutated((plan) => (plan.files[1]!.contentOffset = 1000)), /uncompressed_offset is 1000 for "etc\/hello.txt": tar content starts at a multiple of 512/);
  });

  it("overlapping content is rejected", () => {
    const bytes = mutated((plan) => (plan.files[2]!.contentOffset = plan.files[1]!.contentOffset));
    expectRejected(bytes, /content of "etc\/passwd" at \d+ overlaps "etc\/hello.txt", which ends at \d+/);
    // Out of tar order but not overlapping is accepted, as soci sorts by offset.
    const reordered = mutated((plan) => plan.files.reverse());
    expect(parseZtoc(reordered, limits).files.map((file) => file.name)).toEqual(entries.map((entry) => (entry.type === "directory" ? `${entry.path}/` : entry.path)).reverse());
  });

  it("uncompressed zinfo must match the tar", () => {
    const withBlob = (blob: Buffer) => buildZtoc(smallTar, { spanSize: SPAN_SIZE, mutate: (plan) => (plan.checkpointsBlob = blob) }).bytes;
    const tarZinfo = (version: number, spanSize: number, size: number) => {
      const blob = Buffer.alloc(20);
      blob.writeInt32LE(version, 0);
      blob.writeBigInt64LE(BigInt(spanSize), 4);
      blob.writeBigInt64LE(BigInt(size), 12);
      return blob;
    };
    const size = smallTar.length;
    expect(parseZtoc(withBlob(tarZinfo(2, SPAN_SIZE, size)), limits).checkpoints).toHaveLength(1);
    expectRejected(withBlob(tarZinfo(2, SPAN_SIZE, size + 1)), new RegExp(`tar size ${size + 1} differs from compressed_archive_size ${size}`));
    expectRejected(withBlob(tarZinfo(1, SPAN_SIZE, size)), /unsupported uncompressed zinfo version 1: expected 2/);
    expectRejected(withBlob(tarZinfo(2, 0, size)), /checkpoints: span size is 0/);
    expectRejected(withBlob(tarZinfo(2, 1, size)), new RegExp(`checkpoints: ${size} checkpoints, but Ztoc.compression_info lists 1 spans`));
    expectRejected(withBlob(Buffer.alloc(19)), /checkpoints: 19 bytes, but the zinfo of an uncompressed layer has 20/);
  });

  it("shared objects cannot amplify the zTOC", () => {
    expectRejected(sharedFileZtoc(200, 60_000), /more than \d+ bytes read from a \d+-byte buffer, so objects are shared/);
    // The same structure with few references parses.
    expect(parseZtoc(sharedFileZtoc(3, 60_000), { maxEntries: 1000 }).files).toHaveLength(3);
  });
});

/**
 * Writes a zTOC of an uncompressed layer whose file list refers `count`
 * times to one FileMetadata table with a `nameLength`-byte name, which a
 * FlatBuffer allows and soci's writer never does.
 */
function sharedFileZtoc(count: number, nameLength: number): Buffer {
  const size = 1024 + 512 * count;
  const builder = new Builder(1024);
  const version = builder.createString("0.9");
  const toc = encodeSharedEntryToc(builder, "n".repeat(nameLength), count);

  const zinfo = Buffer.alloc(20);
  zinfo.writeInt32LE(2, 0);
  zinfo.writeBigInt64LE(BigInt(size), 4);
  zinfo.writeBigInt64LE(BigInt(size), 12);
  const checkpoints = builder.createByteVector(zinfo);
  const digest = builder.createString(`sha256:${"0".repeat(64)}`);
  builder.startVector(4, 1, 4);
  builder.addOffset(digest);
  const spanDigests = builder.endVector();
  builder.startObject(4);
  builder.addFieldInt8(0, 2, 1);
  builder.addFieldOffset(2, spanDigests, 0);
  builder.addFieldOffset(3, checkpoints, 0);
  const info = builder.endObject();

  builder.startObject(6);
  builder.addFieldOffset(0, version, 0);
  builder.addFieldInt64(2, BigInt(size), 0n);
  builder.addFieldInt64(3, BigInt(size), 0n);
  builder.addFieldOffset(4, toc, 0);
  builder.addFieldOffset(5, info, 0);
  builder.finish(builder.endObject());
  return Buffer.from(builder.asUint8Array());
}
