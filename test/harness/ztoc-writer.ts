/**
 * Writes SOCI zTOCs for tests, as soci-snapshotter's ztoc package builds them
 * (ztoc_builder.go, toc_builder.go, zinfo_builder.go, ztoc_marshaler.go), with
 * Google's `flatbuffers` Builder, so regdav's own FlatBuffer reader is tested
 * against an encoder it does not share code with.
 *
 * buildZtoc walks the layer twice, independently of regdav's layer code.
 * pako's port of zlib stops at every deflate block boundary to place the
 * checkpoints by zran.c's rule, which soci keeps. A small tar reader modeled
 * on Go's archive/tar finds each entry's metadata and content offset.
 * `mutate` edits the plan before it is encoded, to write broken zTOCs.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";

import { Builder } from "flatbuffers";
import pakoInflate from "pako/lib/zlib/inflate.js";
import ZStream from "pako/lib/zlib/zstream.js";

import type { Ztoc, ZtocCheckpoint, ZtocFile } from "../../src/layer/soci/ztoc.js";

/** soci's default span size (`soci create --span-size`), 4 MiB. */
export const DEFAULT_SPAN_SIZE = 4 * 1024 * 1024;
export const PREFETCH_SEPARATOR = "---SOCI-PREFETCH---";
const WINDOW_SIZE = 32 * 1024;
const BLOCK_SIZE = 512;

/** An int64 or uint64 of the plan. A bigint can be the negative or huge value that a test needs. */
type Long = number | bigint;

export interface PlannedFile {
  name: string;
  type: string;
  contentOffset: Long;
  size: Long;
  linkName: string;
  mode: Long;
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  /** RFC 3339 text, as Go's time.Time.MarshalText writes it. */
  modTime: string;
  deviceMajor: Long;
  deviceMinor: Long;
  /** PAX records in the order written. soci sorts them by key. */
  xattrs: [string, string | Buffer][];
}

export interface PlannedCheckpoint {
  in: Long;
  out: Long;
  bits: number;
  window: Buffer;
}

/** Everything the zTOC will contain, before it is encoded. */
export interface ZtocPlan {
  version: string;
  buildTool: string;
  compressedSize: Long;
  uncompressedSize: Long;
  /** CompressionAlgorithm: 1 gzip (the schema default, left out as soci's writer does), 2 uncompressed. */
  compressionAlgorithm: number;
  maxSpanId: number;
  spanDigests: string[];
  spanSize: Long;
  /** gzip zinfo only: version 1 leaves checkpoint 0 out of the blob. */
  zinfoVersion: 1 | 2;
  /** gzip zinfo only, because an uncompressed layer's checkpoints follow from the span size. */
  checkpoints: PlannedCheckpoint[];
  /** Replaces the encoded zinfo blob when set. */
  checkpointsBlob?: Buffer;
  files: PlannedFile[];
  /** Text after the prefetch separator, which is left out when this is undefined. */
  prefetch?: string;
}

export interface ZtocWriterOptions {
  /** Uncompressed bytes between checkpoints (default 4 MiB, as soci). */
  spanSize?: number;
  /** Layout of the gzip zinfo blob (default 2, what soci writes now). */
  zinfoVersion?: 1 | 2;
  buildTool?: string;
  /** Prefetch list appended after the FlatBuffer: JSON-encoded when not a string. */
  prefetch?: unknown;
  /** Edits the plan before encoding. */
  mutate?: (plan: ZtocPlan) => void;
}

/** Byte positions in the written zTOC, for tests that edit the bytes. */
export interface ZtocLayout {
  rootTable: number;
  /** The length prefix of the version string. */
  version: number;
  /** The length prefix of the zinfo byte vector. */
  checkpoints: number;
  /** The length prefix of the span digest vector. */
  spanDigests: number;
  /** The length prefix of the FileMetadata vector. */
  metadata: number;
  /** The first FileMetadata table, when there is one. */
  firstFile: number | undefined;
  /** Where the FlatBuffer ends and a prefetch suffix would start. */
  flatBufferEnd: number;
}

export interface WrittenZtoc {
  bytes: Buffer;
  /** What parseZtoc should return, read from the layer, before `mutate`. */
  ztoc: Ztoc;
  /** The plan as encoded, after `mutate`. */
  plan: ZtocPlan;
  layout: ZtocLayout;
}

/** Builds the zTOC of a gzip layer blob, or of an uncompressed tar when the blob has no gzip magic. */
export function buildZtoc(layer: Buffer, options: ZtocWriterOptions = {}): WrittenZtoc {
  const spanSize = options.spanSize ?? DEFAULT_SPAN_SIZE;
  const gzip = layer[0] === 0x1f && layer[1] === 0x8b;
  const { tar, checkpoints } = gzip ? findGzipCheckpoints(layer, spanSize) : uncompressedSpans(layer, spanSize);
  const { files, tarSize } = readTarEntries(tar);
  const spanDigests = checkpoints.map((_, i) => spanDigest(layer, checkpoints, i));

  const ztoc: Ztoc = {
    version: "0.9",
    buildTool: options.buildTool ?? "regdav test ztoc-writer",
    compressedSize: layer.length,
    uncompressedSize: tarSize,
    compression: gzip ? "gzip" : "uncompressed",
    files: files.map(expectedFile),
    spanSize,
    checkpoints,
    spanDigests,
  };
  const plan: ZtocPlan = {
    version: ztoc.version,
    buildTool: ztoc.buildTool,
    compressedSize: layer.length,
    uncompressedSize: tarSize,
    compressionAlgorithm: gzip ? 1 : 2,
    maxSpanId: checkpoints.length - 1,
    spanDigests: [...spanDigests],
    spanSize,
    zinfoVersion: options.zinfoVersion ?? 2,
    checkpoints: checkpoints.map((c) => ({ in: c.compressedOffset, out: c.uncompressedOffset, bits: c.bits, window: c.window })),
    files,
  };
  if (options.prefetch !== undefined) {
    plan.prefetch = typeof options.prefetch === "string" ? options.prefetch : JSON.stringify(options.prefetch);
  }
  options.mutate?.(plan);

  const { bytes, layout } = encodeZtoc(plan);
  return { bytes, ztoc, plan, layout };
}

// --- Checkpoints ---------------------------------------------------------

// zlib's return codes, flush value and data_type bits (zlib.h), which pako keeps.
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_BLOCK = 5;
const GZIP_WINDOW_BITS = 16 + 15;
const DATA_TYPE_LAST_BLOCK = 64;
const DATA_TYPE_BLOCK_BOUNDARY = 128;

/**
 * Inflates one gzip member, stopping at every block boundary, and takes a
 * checkpoint as soci does: right after the gzip header, then at the first
 * boundary after more than `spanSize` bytes since the last one, never after
 * the final block.
 */
function findGzipCheckpoints(layer: Buffer, spanSize: number): { tar: Buffer; checkpoints: ZtocCheckpoint[] } {
  const tar = gunzipSync(layer);
  const strm = new ZStream();
  strm.input = layer;
  strm.next_in = 0;
  strm.avail_in = layer.length;
  strm.output = Buffer.alloc(tar.length);
  strm.next_out = 0;
  strm.avail_out = tar.length;
  if (pakoInflate.inflateInit2(strm, GZIP_WINDOW_BITS) !== Z_OK) throw new Error("pako inflateInit2 failed");

  const checkpoints: ZtocCheckpoint[] = [];
  let last = 0;
  try {
    for (;;) {
      const before = strm.total_in;
      const status = pakoInflate.inflate(strm, Z_BLOCK);
      if (status === Z_STREAM_END) break;
      if (status !== Z_OK && !(status === Z_BUF_ERROR && strm.total_in > before)) {
        throw new Error(`pako inflate failed with status ${status}: ${strm.msg}`);
      }
      const out = strm.total_out;
      const atBoundary = (strm.data_type & DATA_TYPE_BLOCK_BOUNDARY) !== 0;
      const afterLast = (strm.data_type & DATA_TYPE_LAST_BLOCK) !== 0;
      if (atBoundary && !afterLast && (out === 0 || out - last > spanSize)) {
        const window = windowBefore(tar, out);
        checkpoints.push({ compressedOffset: strm.total_in, bits: strm.data_type & 7, uncompressedOffset: out, window });
        last = out;
      }
    }
  } finally {
    pakoInflate.inflateEnd(strm);
  }
  if (strm.total_out !== tar.length) throw new Error("the zTOC writer reads one gzip member, and this blob has more");
  return { tar, checkpoints };
}

/** Returns the 32 KiB before `out`, zero-padded at the front, as soci stores it. */
function windowBefore(data: Buffer, out: number): Buffer {
  const window = Buffer.alloc(WINDOW_SIZE);
  const start = Math.max(0, out - WINDOW_SIZE);
  data.copy(window, WINDOW_SIZE - (out - start), start, out);
  return window;
}

/** Returns the spans of an uncompressed tar: one every `spanSize` bytes, with no window. */
function uncompressedSpans(tar: Buffer, spanSize: number): { tar: Buffer; checkpoints: ZtocCheckpoint[] } {
  const checkpoints: ZtocCheckpoint[] = [];
  for (let offset = 0; offset < tar.length; offset += spanSize) {
    checkpoints.push({ compressedOffset: offset, bits: 0, uncompressedOffset: offset, window: Buffer.alloc(0) });
  }
  return { tar, checkpoints };
}

/**
 * Returns soci's digest of span i: the compressed bytes from the byte that
 * contains the span's first bit to the next checkpoint's `in`, or the blob's end.
 */
export function spanDigest(layer: Buffer, checkpoints: readonly ZtocCheckpoint[], i: number): string {
  const checkpoint = checkpoints[i]!;
  const start = checkpoint.compressedOffset - (checkpoint.bits > 0 ? 1 : 0);
  const end = checkpoints[i + 1]?.compressedOffset ?? layer.length;
  return "sha256:" + createHash("sha256").update(layer.subarray(start, end)).digest("hex");
}

// --- Tar entries ---------------------------------------------------------

const TYPES: Record<string, string> = {
  "0": "reg",
  "\0": "reg",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

/**
 * Reads the tar's entries as Go's archive/tar reports them to soci: PAX ('x')
 * and GNU long name ('L', 'K') headers apply to the next entry, whose content
 * starts after its own header block. Returns the offset after the two
 * end-of-archive blocks as the tar size.
 */
function readTarEntries(tar: Buffer): { files: PlannedFile[]; tarSize: number } {
  const files: PlannedFile[] = [];
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let position = 0;
  for (;;) {
    if (position + BLOCK_SIZE > tar.length) throw new Error(`tar ends at byte ${tar.length} without end-of-archive blocks`);
    const block = tar.subarray(position, position + BLOCK_SIZE);
    if (block.every((byte) => byte === 0)) return { files, tarSize: Math.min(position + 2 * BLOCK_SIZE, tar.length) };

    const typeflag = String.fromCharCode(block[156]!);
    const size = readNumber(block, 124, 12);
    const dataStart = position + BLOCK_SIZE;
    const data = tar.subarray(dataStart, dataStart + size);
    position = dataStart + Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;

    if (typeflag === "x") {
      pax = parsePax(data);
      continue;
    }
    if (typeflag === "L" || typeflag === "K") {
      const text = cString(data);
      if (typeflag === "L") longName = text;
      else longLink = text;
      continue;
    }
    const type = TYPES[typeflag];
    if (type === undefined) throw new Error(`the zTOC writer does not support tar type ${JSON.stringify(typeflag)} (soci rejects it too)`);

    const prefix = block.toString("latin1", 257, 263) === "ustar\0" ? cString(block.subarray(345, 500)) : "";
    const headerName = prefix ? `${prefix}/${cString(block.subarray(0, 100))}` : cString(block.subarray(0, 100));
    const paxText = (key: string) => pax.get(key)?.toString("utf8");
    const mtime = paxText("mtime") ?? String(readNumber(block, 136, 12));
    files.push({
      name: paxText("path") ?? longName ?? headerName,
      type: typeflag === "\0" && headerName.endsWith("/") ? "dir" : type,
      contentOffset: dataStart,
      size: Number(paxText("size") ?? size),
      linkName: paxText("linkpath") ?? longLink ?? cString(block.subarray(157, 257)),
      mode: readNumber(block, 100, 8),
      uid: Number(paxText("uid") ?? readNumber(block, 108, 8)),
      gid: Number(paxText("gid") ?? readNumber(block, 116, 8)),
      userName: paxText("uname") ?? cString(block.subarray(265, 297)),
      groupName: paxText("gname") ?? cString(block.subarray(297, 329)),
      modTime: formatGoTime(mtime),
      deviceMajor: readNumber(block, 329, 8),
      deviceMinor: readNumber(block, 337, 8),
      xattrs: [...pax.entries()].sort(compareKeys),
    });
    pax = new Map();
    longName = undefined;
    longLink = undefined;
  }
}

/** Orders PAX records by key, as Go's sort.Strings does for the ASCII keys of tests. */
function compareKeys([a]: [string, Buffer], [b]: [string, Buffer]): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Reads an octal field, or a base-256 one (high bit of the first byte set, positive values only). */
function readNumber(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const text = field.toString("latin1").replace(/[\0 ]+$/, "").trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString("utf8", 0, end < 0 ? bytes.length : end);
}

/** Parses PAX records (`"<length> <key>=<value>\n"`), keeping each value's bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let position = 0;
  while (position < data.length && data[position] !== 0) {
    const space = data.indexOf(0x20, position);
    const length = Number(data.toString("latin1", position, space));
    const record = data.subarray(space + 1, position + length - 1);
    const equals = record.indexOf(0x3d);
    records.set(record.toString("utf8", 0, equals), Buffer.from(record.subarray(equals + 1)));
    position += length;
  }
  return records;
}

/** Formats decimal seconds (`1704067200` or `1704067200.5`) as Go's MarshalText does in UTC. */
function formatGoTime(seconds: string): string {
  const [whole, fraction = ""] = seconds.split(".");
  const iso = new Date(Number(whole) * 1000).toISOString().slice(0, 19);
  const digits = fraction.slice(0, 9).replace(/0+$/, "");
  return `${iso}${digits ? "." + digits : ""}Z`;
}

/** The ZtocFile that parseZtoc should return for a planned file. */
function expectedFile(file: PlannedFile): ZtocFile {
  const [whole, fraction = ""] = file.modTime.replace(/Z$/, "").split(".");
  const xattrs: Record<string, string> = {};
  for (const [key, value] of file.xattrs) xattrs[key] = value.toString();
  return {
    name: file.name,
    type: file.type as ZtocFile["type"],
    contentOffset: Number(file.contentOffset),
    size: Number(file.size),
    linkName: file.linkName,
    mode: Number(file.mode),
    uid: file.uid,
    gid: file.gid,
    userName: file.userName,
    groupName: file.groupName,
    modified: Date.parse(`${whole}Z`) + Number(fraction.padEnd(3, "0").slice(0, 3)),
    deviceMajor: Number(file.deviceMajor),
    deviceMinor: Number(file.deviceMinor),
    xattrs,
  };
}

// --- Encoding ------------------------------------------------------------

/** Encodes the gzip zinfo blob: count, span size, then in, out, bits and window per checkpoint. */
export function encodeGzipZinfo(plan: Pick<ZtocPlan, "checkpoints" | "spanSize" | "zinfoVersion">): Buffer {
  const stored = plan.zinfoVersion === 1 ? plan.checkpoints.slice(1) : plan.checkpoints;
  const header = Buffer.alloc(12);
  header.writeUInt32LE(plan.checkpoints.length, 0);
  header.writeBigUInt64LE(BigInt(plan.spanSize), 4);
  const parts: Buffer[] = [header];
  for (const checkpoint of stored) {
    const fixed = Buffer.alloc(17);
    fixed.writeBigUInt64LE(BigInt.asUintN(64, BigInt(checkpoint.in)), 0);
    fixed.writeBigUInt64LE(BigInt.asUintN(64, BigInt(checkpoint.out)), 8);
    fixed.writeUInt8(checkpoint.bits, 16);
    parts.push(fixed, checkpoint.window);
  }
  return Buffer.concat(parts);
}

/** Encodes the zinfo of an uncompressed layer: version 2, span size, tar size. */
function encodeTarZinfo(plan: ZtocPlan): Buffer {
  const blob = Buffer.alloc(20);
  blob.writeInt32LE(2, 0);
  blob.writeBigInt64LE(BigInt(plan.spanSize), 4);
  blob.writeBigInt64LE(BigInt(plan.compressedSize), 12);
  return blob;
}

/** Encodes the plan in the order soci's ztocToFlatbuffer creates objects. */
function encodeZtoc(plan: ZtocPlan): { bytes: Buffer; layout: ZtocLayout } {
  const builder = new Builder(1024);
  const version = builder.createString(plan.version);
  const buildTool = builder.createString(plan.buildTool);
  const { toc, metadata, firstFile } = encodeToc(builder, plan.files);

  const zinfo = plan.checkpointsBlob ?? (plan.compressionAlgorithm === 2 ? encodeTarZinfo(plan) : encodeGzipZinfo(plan));
  const checkpoints = builder.createByteVector(zinfo);
  const digestStrings = plan.spanDigests.map((digest) => builder.createString(digest));
  const spanDigests = offsetVector(builder, digestStrings);

  builder.startObject(4);
  builder.addFieldInt32(1, plan.maxSpanId, 0);
  builder.addFieldOffset(2, spanDigests, 0);
  builder.addFieldOffset(3, checkpoints, 0);
  builder.addFieldInt8(0, plan.compressionAlgorithm, 1);
  const compressionInfo = builder.endObject();

  builder.startObject(6);
  builder.addFieldOffset(0, version, 0);
  builder.addFieldOffset(1, buildTool, 0);
  builder.addFieldOffset(4, toc, 0);
  builder.addFieldInt64(2, BigInt(plan.compressedSize), 0n);
  builder.addFieldInt64(3, BigInt(plan.uncompressedSize), 0n);
  builder.addFieldOffset(5, compressionInfo, 0);
  const root = builder.endObject();
  builder.finish(root);

  const flat = Buffer.from(builder.asUint8Array());
  // Builder offsets count from the end of the finished buffer.
  const at = (offset: number) => flat.length - offset;
  const layout: ZtocLayout = {
    rootTable: at(root),
    version: at(version),
    checkpoints: at(checkpoints),
    spanDigests: at(spanDigests),
    metadata: at(metadata),
    firstFile: firstFile === undefined ? undefined : at(firstFile),
    flatBufferEnd: flat.length,
  };
  const suffix = plan.prefetch === undefined ? [] : [Buffer.from(PREFETCH_SEPARATOR), Buffer.from(plan.prefetch)];
  return { bytes: Buffer.concat([flat, ...suffix]), layout };
}

/**
 * Encodes a TOC of `count` metadata entries that all point at one shared
 * FileMetadata table: a folder named `name` with content offset 512. soci
 * never shares tables, so this only builds zTOCs that test the reader's
 * bound on bytes read.
 */
export function encodeSharedEntryToc(builder: Builder, name: string, count: number): number {
  const nameOffset = builder.createString(name);
  const type = builder.createString("dir");
  builder.startObject(14);
  builder.addFieldOffset(0, nameOffset, 0);
  builder.addFieldOffset(1, type, 0);
  builder.addFieldInt64(2, 512n, 0n);
  const file = builder.endObject();

  builder.startVector(4, count, 4);
  for (let i = 0; i < count; i++) builder.addOffset(file);
  const metadata = builder.endVector();
  builder.startObject(1);
  builder.addFieldOffset(0, metadata, 0);
  return builder.endObject();
}

function encodeToc(builder: Builder, files: PlannedFile[]): { toc: number; metadata: number; firstFile: number | undefined } {
  const tables: number[] = new Array(files.length);
  for (let i = files.length - 1; i >= 0; i--) tables[i] = encodeFile(builder, files[i]!);
  const metadata = offsetVector(builder, tables);
  builder.startObject(1);
  builder.addFieldOffset(0, metadata, 0);
  return { toc: builder.endObject(), metadata, firstFile: tables[0] };
}

function encodeFile(builder: Builder, file: PlannedFile): number {
  const name = builder.createString(file.name);
  const type = builder.createString(file.type);
  const linkName = builder.createString(file.linkName);
  const userName = builder.createString(file.userName);
  const groupName = builder.createString(file.groupName);
  const modTime = builder.createString(file.modTime);
  const xattrTables = file.xattrs.map(([key, value]) => {
    const keyString = builder.createString(key);
    const valueString = builder.createString(typeof value === "string" ? value : new Uint8Array(value));
    builder.startObject(2);
    builder.addFieldOffset(0, keyString, 0);
    builder.addFieldOffset(1, valueString, 0);
    return builder.endObject();
  });
  const xattrs = offsetVector(builder, xattrTables);

  builder.startObject(14);
  builder.addFieldOffset(0, name, 0);
  builder.addFieldOffset(1, type, 0);
  builder.addFieldInt64(2, BigInt(file.contentOffset), 0n);
  builder.addFieldInt64(3, BigInt(file.size), 0n);
  builder.addFieldOffset(4, linkName, 0);
  builder.addFieldInt64(5, BigInt(file.mode), 0n);
  builder.addFieldInt32(6, file.uid, 0);
  builder.addFieldInt32(7, file.gid, 0);
  builder.addFieldOffset(8, userName, 0);
  builder.addFieldOffset(9, groupName, 0);
  builder.addFieldOffset(10, modTime, 0);
  builder.addFieldInt64(11, BigInt(file.deviceMajor), 0n);
  builder.addFieldInt64(12, BigInt(file.deviceMinor), 0n);
  builder.addFieldOffset(13, xattrs, 0);
  return builder.endObject();
}

/** Writes a vector of offsets to objects already in the buffer, first element first. */
function offsetVector(builder: Builder, offsets: number[]): number {
  builder.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) builder.addOffset(offsets[i]!);
  return builder.endVector();
}
