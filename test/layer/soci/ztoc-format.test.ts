import { createHash } from "node:crypto";
import { constants, gunzipSync, inflateRawSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";

import { emptyBlockOfBitLength } from "../../../src/layer/random-access/deflate-preamble.js";
import { parseZtoc, ZtocError, type Ztoc, type ZtocCheckpoint } from "../../../src/layer/soci/ztoc.js";
import { gzip, makeLayerTar, type TarEntry } from "../../harness/layer-tar.js";
import { buildZtoc, PREFETCH_SEPARATOR, type WrittenZtoc } from "../../harness/ztoc-writer.js";

const SPAN_SIZE = 64 * 1024;
const limits = { maxEntries: 1000 };

/** Deterministic bytes that do not compress, so zlib writes stored blocks for them. */
function noise(size: number, seed: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; counter * 32 < size; counter++) {
    blocks.push(createHash("sha256").update(`${seed}:${counter}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** Text from a small vocabulary: it compresses into Huffman blocks, which end at any bit of a byte. */
function words(count: number, seed: number): string {
  const vocabulary = ["layer", "span", "window", "deflate", "checkpoint", "tar", "gzip", "soci", "zTOC", "image"];
  const random = noise(count, seed);
  return Array.from(random, (byte) => vocabulary[byte % vocabulary.length]).join(" ");
}

const longName = `deep/${"nested-folder/".repeat(20)}file-with-a-long-name.txt`;

function sampleEntries(): TarEntry[] {
  return [
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/hello.txt", content: "hello\n", uid: 1000, gid: 1000, uname: "user", gname: "staff" },
    { type: "file", path: "etc/empty", content: "" },
    { type: "symlink", path: "etc/link", target: "hello.txt" },
    { type: "hardlink", path: "etc/hard", target: "etc/hello.txt" },
    { type: "fifo", path: "run/fifo" },
    { type: "char-device", path: "dev/null", devmajor: 1, devminor: 3 },
    { type: "block-device", path: "dev/sda", devmajor: 8, devminor: 0 },
    { type: "file", path: "data/text.txt", content: words(120_000, 1), mtime: new Date("2021-06-15T12:30:45Z") },
    { type: "file", path: "data/noise.bin", content: noise(200_000, 2), mode: 0o600 },
    { type: "file", path: "data/more-text.txt", content: words(80_000, 3) },
    { type: "file", path: longName, content: "long name\n" },
    { type: "file", path: "données/été.txt", content: "non-ASCII name\n" },
    { type: "file", path: "data/xattr.txt", content: "x\n", pax: { "SCHILY.xattr.user.note": "a note" } },
  ];
}

function contentOf(entries: TarEntry[], path: string): Buffer {
  const entry = entries.find((candidate) => candidate.path === path);
  if (entry?.type !== "file") throw new Error(`no file ${path} in the test entries`);
  return Buffer.from(entry.content ?? "");
}

/**
 * Inflates `length` bytes from a checkpoint with Node's zlib. Node has no
 * inflatePrime(), so when the block starts inside a byte, an empty deflate
 * block of the right bit length goes first and takes that byte's low bits.
 */
function inflateFrom(layer: Buffer, checkpoint: ZtocCheckpoint, length: number): Buffer {
  const start = checkpoint.compressedOffset - (checkpoint.bits > 0 ? 1 : 0);
  let input = layer.subarray(start);
  if (checkpoint.bits > 0) {
    const preamble = Buffer.from(emptyBlockOfBitLength(8 - checkpoint.bits).bytes);
    const lowBits = (1 << (8 - checkpoint.bits)) - 1;
    const last = preamble.length - 1;
    preamble[last] = (preamble[last]! & lowBits) | (layer[start]! & ~lowBits & 0xff);
    input = Buffer.concat([preamble, layer.subarray(start + 1)]);
  }
  const dictionary = checkpoint.window.length > 0 ? { dictionary: checkpoint.window } : {};
  return inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, ...dictionary }).subarray(0, length);
}

function sha256(bytes: Buffer): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** Checkpoints with each window replaced by its digest, which vitest compares much faster. */
function summarized(checkpoints: ZtocCheckpoint[]) {
  return checkpoints.map(({ window, ...rest }) => ({ ...rest, window: sha256(window) }));
}

describe("zTOC of a gzip layer", () => {
  const entries = sampleEntries();
  let layer: Buffer;
  let tar: Buffer;
  let written: WrittenZtoc;
  let ztoc: Ztoc;

  beforeAll(async () => {
    layer = gzip(await makeLayerTar(entries));
    tar = gunzipSync(layer);
    written = buildZtoc(layer, { spanSize: SPAN_SIZE });
    ztoc = parseZtoc(written.bytes, limits);
  });

  it("header fields round-trip", () => {
    expect(ztoc.version).toBe("0.9");
    expect(ztoc.buildTool).toBe("regdav test ztoc-writer");
    expect(ztoc.compression).toBe("gzip");
    expect(ztoc.compressedSize).toBe(layer.length);
    expect(ztoc.uncompressedSize).toBe(tar.length);
    expect(ztoc.spanSize).toBe(SPAN_SIZE);
  });

  it("files are the tar's entries", () => {
    expect(ztoc.files).toEqual(written.ztoc.files);
    const names = ztoc.files.map((file) => file.name);
    const expectedNames = entries.map((entry) => (entry.type === "directory" ? `${entry.path}/` : entry.path));
    expect(names).toEqual(expectedNames);
    const types = ztoc.files.map((file) => file.type);
    expect(types).toEqual(["dir", "reg", "reg", "symlink", "hardlink", "fifo", "char", "block", "reg", "reg", "reg", "reg", "reg", "reg"]);
  });

  it("file metadata matches the tar headers", () => {
    const byName = new Map(ztoc.files.map((file) => [file.name, file]));
    const hello = byName.get("etc/hello.txt")!;
    expect(hello).toMatchObject({ uid: 1000, gid: 1000, userName: "user", groupName: "staff", mode: 0o644, size: 6 });
    expect(byName.get("etc/link")!.linkName).toBe("hello.txt");
    expect(byName.get("etc/hard")!.linkName).toBe("etc/hello.txt");
    expect(byName.get("dev/null")).toMatchObject({ deviceMajor: 1, deviceMinor: 3 });
    expect(byName.get("dev/sda")).toMatchObject({ deviceMajor: 8, deviceMinor: 0 });
    expect(byName.get("data/noise.bin")!.mode).toBe(0o600);
    expect(byName.get("data/text.txt")!.modified).toBe(Date.parse("2021-06-15T12:30:45Z"));
    expect(byName.get("etc/empty")!.modified).toBe(Date.parse("2024-01-01T00:00:00Z"));
    expect(byName.get("data/xattr.txt")!.xattrs).toEqual({ path: "data/xattr.txt", "SCHILY.xattr.user.note": "a note" });
    expect(byName.get(longName)!.xattrs.path).toBe(longName);
  });

  it("content offsets point at file bytes", () => {
    const files = ztoc.files.filter((file) => file.type === "reg");
    expect(files).toHaveLength(8);
    for (const file of files) {
      const bytes = tar.subarray(file.contentOffset, file.contentOffset + file.size);
      expect(bytes.equals(contentOf(entries, file.name)), file.name).toBe(true);
    }
  });

  it("checkpoints are where soci puts them", () => {
    const checkpoints = ztoc.checkpoints;
    expect(checkpoints.length).toBeGreaterThan(5);
    expect(checkpoints[0]).toMatchObject({ compressedOffset: 10, bits: 0, uncompressedOffset: 0 });
    for (let i = 1; i < checkpoints.length; i++) {
      const distance = checkpoints[i]!.uncompressedOffset - checkpoints[i - 1]!.uncompressedOffset;
      expect(distance, `checkpoint ${i}`).toBeGreaterThan(SPAN_SIZE);
    }
    expect(checkpoints.some((checkpoint) => checkpoint.bits !== 0)).toBe(true);
    expect(checkpoints.some((checkpoint, i) => i > 0 && checkpoint.bits === 0)).toBe(true);
  });

  it("windows are the 32 KiB before each checkpoint", () => {
    for (const [i, checkpoint] of ztoc.checkpoints.entries()) {
      const out = checkpoint.uncompressedOffset;
      const expected = Buffer.alloc(32 * 1024);
      tar.copy(expected, Math.max(0, 32 * 1024 - out), Math.max(0, out - 32 * 1024), out);
      expect(checkpoint.window.equals(expected), `checkpoint ${i}`).toBe(true);
    }
  });

  it("inflating resumes at every checkpoint", () => {
    for (const [i, checkpoint] of ztoc.checkpoints.entries()) {
      const out = checkpoint.uncompressedOffset;
      const length = Math.min(100_000, tar.length - out);
      const bytes = inflateFrom(layer, checkpoint, length);
      expect(bytes.length, `checkpoint ${i} (bits ${checkpoint.bits})`).toBe(length);
      expect(bytes.equals(tar.subarray(out, out + length)), `checkpoint ${i} (bits ${checkpoint.bits})`).toBe(true);
    }
  });

  it("inflating at a shifted bit fails", () => {
    // The check above must be able to fail: one bit off gives other bytes.
    const checkpoint = ztoc.checkpoints.find((candidate) => candidate.bits > 1)!;
    const shifted = { ...checkpoint, bits: checkpoint.bits - 1 };
    const out = checkpoint.uncompressedOffset;
    let bytes: Buffer;
    try {
      bytes = inflateFrom(layer, shifted, 1000);
    } catch {
      bytes = Buffer.alloc(0);
    }
    expect(bytes.equals(tar.subarray(out, out + 1000))).toBe(false);
  });

  it("span digests cover each span's compressed bytes", () => {
    const checkpoints = ztoc.checkpoints;
    expect(ztoc.spanDigests).toHaveLength(checkpoints.length);
    for (const [i, checkpoint] of checkpoints.entries()) {
      const start = checkpoint.compressedOffset - (checkpoint.bits > 0 ? 1 : 0);
      const end = checkpoints[i + 1]?.compressedOffset ?? layer.length;
      expect(ztoc.spanDigests[i], `span ${i}`).toBe(sha256(layer.subarray(start, end)));
    }
  });

  it("zinfo version 1 reads like version 2", () => {
    const version1 = parseZtoc(buildZtoc(layer, { spanSize: SPAN_SIZE, zinfoVersion: 1 }).bytes, limits);
    expect(version1.checkpoints).toHaveLength(ztoc.checkpoints.length);
    expect(version1.checkpoints[0]).toEqual({ compressedOffset: 10, bits: 0, uncompressedOffset: 0, window: Buffer.alloc(0) });
    expect(summarized(version1.checkpoints.slice(1))).toEqual(summarized(ztoc.checkpoints.slice(1)));
    expect(version1.spanDigests).toEqual(ztoc.spanDigests);
    expect(version1.files).toEqual(ztoc.files);
  });

  it("prefetch suffix is skipped", () => {
    const prefetch = [{ path: "/etc/hello.txt", offset: 512 }, null];
    const withPrefetch = buildZtoc(layer, { spanSize: SPAN_SIZE, prefetch });
    expect(withPrefetch.bytes.includes(PREFETCH_SEPARATOR)).toBe(true);
    const parsed = parseZtoc(withPrefetch.bytes, limits);
    expect(parsed.files).toEqual(ztoc.files);
    expect(parsed.spanDigests).toEqual(ztoc.spanDigests);
  });

  it("empty prefetch list is accepted", () => {
    for (const prefetch of ["", "null", "[]"]) {
      const parsed = parseZtoc(buildZtoc(layer, { spanSize: SPAN_SIZE, prefetch }).bytes, limits);
      expect(parsed.files, JSON.stringify(prefetch)).toEqual(ztoc.files);
    }
  });

  it("bad prefetch list is rejected", () => {
    const cases: [string, RegExp][] = [
      ["[{", /the prefetch list at byte \d+ is not valid JSON/],
      ['{"path": "/etc"}', /the prefetch list at byte \d+ is a JSON object, not an array/],
      ['[{"path": "/etc"}, 7]', /entry 1 is 7, not an object/],
    ];
    for (const [prefetch, message] of cases) {
      const bytes = buildZtoc(layer, { spanSize: SPAN_SIZE, prefetch }).bytes;
      expect(() => parseZtoc(bytes, limits), prefetch).toThrow(ZtocError);
      expect(() => parseZtoc(bytes, limits), prefetch).toThrow(message);
    }
  });
});

describe("zTOC edge cases", () => {
  it("separator inside the FlatBuffer is not a suffix", async () => {
    // The separator in a file name and in the checkpoint windows, as when a
    // layer contains soci's own source code.
    const parts = Array.from({ length: 3000 }, (_, i) => `${words(50, i)} ${PREFETCH_SEPARATOR}\n`);
    const text = parts.join("");
    const entries: TarEntry[] = [{ type: "file", path: `notes/${PREFETCH_SEPARATOR}.txt`, content: text }];
    const layer = gzip(await makeLayerTar(entries));
    const written = buildZtoc(layer, { spanSize: SPAN_SIZE, prefetch: [{ path: "/notes" }] });
    const windows = written.ztoc.checkpoints.slice(1).map((checkpoint) => checkpoint.window);
    expect(windows.some((window) => window.includes(PREFETCH_SEPARATOR))).toBe(true);
    const ztoc = parseZtoc(written.bytes, limits);
    expect(ztoc.files).toEqual(written.ztoc.files);
    expect(summarized(ztoc.checkpoints)).toEqual(summarized(written.ztoc.checkpoints));
  });

  it("uncompressed layer has one span per span size", async () => {
    const entries = sampleEntries();
    const tar = await makeLayerTar(entries);
    const written = buildZtoc(tar, { spanSize: SPAN_SIZE });
    const ztoc = parseZtoc(written.bytes, limits);
    expect(ztoc.compression).toBe("uncompressed");
    expect(ztoc.compressedSize).toBe(tar.length);
    expect(ztoc.checkpoints).toHaveLength(Math.ceil(tar.length / SPAN_SIZE));
    for (const [i, checkpoint] of ztoc.checkpoints.entries()) {
      expect(checkpoint, `checkpoint ${i}`).toEqual({ compressedOffset: i * SPAN_SIZE, bits: 0, uncompressedOffset: i * SPAN_SIZE, window: Buffer.alloc(0) });
      const span = tar.subarray(i * SPAN_SIZE, (i + 1) * SPAN_SIZE);
      expect(ztoc.spanDigests[i], `span ${i}`).toBe(sha256(span));
    }
    expect(ztoc.files).toEqual(written.ztoc.files);
  });

  it("layer without entries has no files", async () => {
    const layer = gzip(await makeLayerTar([]));
    const ztoc = parseZtoc(buildZtoc(layer).bytes, limits);
    expect(ztoc.files).toEqual([]);
    expect(ztoc.checkpoints).toHaveLength(1);
    expect(ztoc.uncompressedSize).toBe(1024);
  });

  it("mod times parse as Go writes them", async () => {
    const layer = gzip(await makeLayerTar([{ type: "file", path: "a", content: "a" }]));
    const cases: [string, number][] = [
      ["2024-01-01T02:00:00.123456789+02:00", Date.UTC(2024, 0, 1, 0, 0, 0, 123)],
      ["1969-12-31T23:59:59.5Z", -500],
      ["2024-03-10T08:00:00-05:30", Date.UTC(2024, 2, 10, 13, 30)],
      ["0001-01-01T00:00:00Z", 0],
      ["0099-01-01T00:00:00Z", -59_042_995_200_000],
      ["2024-02-29T23:59:59.999Z", Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
      ["2023-02-29T00:00:00Z", 0],
      ["2024-01-01T24:00:00Z", 0],
      ["2024-01-01T00:00:00.Z", 0],
      ["2024-01-01T00:00:00.1234567891Z", 0],
      ["2024-01-01T00:00:00+0200", 0],
      ["2024-01-01T00:00:00Zjunk", 0],
      ["2024-1-01T00:00:00Z", 0],
      ["2024-01-01 00:00:00", 0],
      ["", 0],
    ];
    for (const [modTime, expected] of cases) {
      const bytes = buildZtoc(layer, { mutate: (plan) => (plan.files[0]!.modTime = modTime) }).bytes;
      expect(parseZtoc(bytes, limits).files[0]!.modified, modTime).toBe(expected);
    }
  });

  it("binary xattr values read as Latin-1", async () => {
    const layer = gzip(await makeLayerTar([{ type: "file", path: "ping", content: "elf" }]));
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0xff, 0x00]);
    const bytes = buildZtoc(layer, {
      mutate: (plan) => {
        plan.files[0]!.xattrs = [
          ["SCHILY.xattr.security.capability", capability],
          ["__proto__", "plain key"],
        ];
      },
    }).bytes;
    const xattrs = parseZtoc(bytes, limits).files[0]!.xattrs;
    expect(xattrs["SCHILY.xattr.security.capability"]).toBe(capability.toString("latin1"));
    expect(Object.keys(xattrs)).toEqual(["SCHILY.xattr.security.capability", "__proto__"]);
    expect(xattrs["__proto__"]).toBe("plain key");
  });
});
