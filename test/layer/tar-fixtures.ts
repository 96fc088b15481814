import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

import { pack, type Header } from "tar-stream";

import { MemoryLayerTree, type LayerNode } from "../../src/image/layer-tree.js";
import { indexLayer, type IndexLayerOptions } from "../../src/layer/index-layer.js";
import type { LayerEntry, LayerIndex, TarLayerIndex } from "../../src/layer/layer-index.js";

/** Test helpers that build tar streams byte by byte, compress them and index them. */

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
export const TEST_DIGEST = "sha256:" + "ab".repeat(32);

export interface HeaderFields {
  name: string;
  typeflag?: string;
  size?: number;
  /** A raw 12-byte size field, such as a base-256 number; replaces `size` in the header. */
  sizeField?: Buffer;
  mode?: number;
  mtime?: number;
  linkName?: string;
  prefix?: string;
  magic?: "ustar" | "gnu" | "v7";
}

/** Builds one 512-byte header block with a valid checksum. */
export function tarHeader(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, "utf8");
  writeOctal(block, 100, 8, fields.mode ?? 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (fields.sizeField) fields.sizeField.copy(block, 124);
  else writeOctal(block, 124, 12, fields.size ?? 0);
  writeOctal(block, 136, 12, fields.mtime ?? 1_650_000_000);
  block.write(fields.typeflag ?? "0", 156, 1, "latin1");
  block.write(fields.linkName ?? "", 157, 100, "utf8");
  writeMagic(block, fields.magic ?? "ustar");
  if (fields.prefix) block.write(fields.prefix, 345, 155, "utf8");
  return withChecksum(block);
}

/** Recomputes a header's checksum field, for example after a test edits a byte. */
export function withChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, "0") + "\0", offset, length, "latin1");
}

function writeMagic(block: Buffer, magic: "ustar" | "gnu" | "v7"): void {
  if (magic === "ustar") block.write("ustar\u000000", 257, 8, "latin1");
  if (magic === "gnu") block.write("ustar  \u0000", 257, 8, "latin1");
}

/** Content followed by zero padding up to the next block boundary. */
export function padded(content: Buffer): Buffer {
  const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
  return Buffer.concat([content, Buffer.alloc(padding)]);
}

/** Builds a header plus its padded content; the size field is the content length unless given. */
export function tarMember(fields: HeaderFields, content: Buffer | string = ""): Buffer {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return Buffer.concat([tarHeader({ size: bytes.length, ...fields }), padded(bytes)]);
}

/** Encodes PAX records, each prefixed with its own length in bytes. Pairs keep repeated keys. */
export function paxRecords(records: Record<string, string> | [string, string][]): Buffer {
  const pairs = Array.isArray(records) ? records : Object.entries(records);
  const encoded = pairs.map(([key, value]) => {
    const body = Buffer.byteLength(` ${key}=${value}\n`);
    let length = body + 1;
    while (String(length).length + body !== length) length++;
    return `${length} ${key}=${value}\n`;
  });
  return Buffer.from(encoded.join(""));
}

/** Builds a PAX extended header member (`x`, or `g` for a global one). */
export function paxMember(records: Record<string, string> | [string, string][], typeflag = "x"): Buffer {
  return tarMember({ name: "PaxHeaders/entry", typeflag }, paxRecords(records));
}

/** Builds a GNU long name (`L`) or long link target (`K`) member, NUL-terminated like GNU tar. */
export function gnuLongMember(typeflag: "L" | "K", name: string): Buffer {
  return tarMember({ name: "././@LongLink", typeflag, magic: "gnu" }, Buffer.from(name + "\0"));
}

/** Concatenates members and the two end-of-archive blocks. */
export function tarOf(...members: Buffer[]): Buffer {
  return Buffer.concat([...members, END_OF_ARCHIVE]);
}

export interface PackedEntry {
  header: Partial<Header> & { name: string };
  content?: string | Buffer;
}

/** Builds a tar with tar-stream, which writes PAX headers for long or non-ASCII names. */
export async function packTar(entries: PackedEntry[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => archive.on("end", () => resolve()));
  for (const { header, content } of entries) {
    archive.entry({ mtime: new Date(1_650_000_000_000), ...header }, content ?? "");
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

/** Compresses with the zstd command-line tool, one frame per call. */
export function zstd(data: Buffer): Buffer {
  return execFileSync("zstd", ["-q", "-c", "-3"], { input: data });
}

/** Builds a zstd skippable frame (magic 0x184D2A53) carrying `payload`. */
export function zstdSkippableFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a53, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

export function sha256(data: Buffer): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Streams `blob` in chunks of `chunkSize` bytes, to exercise chunk boundaries. */
export function streamOf(blob: Buffer, chunkSize = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let start = 0; start < blob.length; start += chunkSize) {
    chunks.push(blob.subarray(start, start + chunkSize));
  }
  return Readable.from(chunks);
}

export async function indexBlob(
  blob: Buffer,
  options: Partial<IndexLayerOptions> & { chunkSize?: number } = {},
): Promise<TarLayerIndex> {
  return indexLayer(streamOf(blob, options.chunkSize), { digest: TEST_DIGEST, ...options });
}

/** Returns the last entry at a path: the one that acts last when the entries apply in order. */
export function entryAt(index: LayerIndex, path: string): LayerEntry | undefined {
  let last: LayerEntry | undefined;
  for (const entry of index.entries) if (entry.path === path) last = entry;
  return last;
}

/** Returns the node at a path of the layer's own tree, which applies the entries in order. */
export function treeNodeAt(index: LayerIndex, path: string): LayerNode | undefined {
  const slash = path.lastIndexOf("/");
  const folder = MemoryLayerTree.fromIndex(index).folder(slash < 0 ? "" : path.slice(0, slash));
  return folder?.children?.get(path.slice(slash + 1));
}

/** Reads a file node's stored content from the uncompressed tar by its offset. */
export function nodeContentOf(tar: Buffer, node: LayerNode | undefined, size?: number): string {
  if (node?.kind !== "file") throw new Error(`expected a file node, got ${node?.kind ?? "nothing"}`);
  return tar.subarray(node.dataOffset, node.dataOffset + (size ?? node.size)).toString();
}

/** Reads an entry's content from the uncompressed tar by its recorded offset. */
export function contentOf(tar: Buffer, entry: LayerEntry | undefined): string {
  if (entry?.dataOffset === undefined) {
    throw new Error(`entry ${entry?.path} has no content offset`);
  }
  return tar.subarray(entry.dataOffset, entry.dataOffset + entry.size).toString();
}
