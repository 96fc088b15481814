import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { makeBlob, mediaTypes, sha256Digest, type LayerBlob } from "./image-builder.js";
import { makeLayerTar, type TarEntry } from "./layer-tar.js";
import { chunkRanges, sha256Of, splitTar, tocType } from "./toc-layer-parts.js";
import { requireTool, runCommand, withTempDir } from "./tools.js";

export const ZSTD_CHUNKED_PREFIX = "io.github.containers.zstd-chunked.";
export const OLD_ZSTD_CHUNKED_PREFIX = "io.containers.zstd-chunked.";

export interface ZstdChunkedOptions {
  /** Files larger than this are split into chunks of this size; default 64 KiB. */
  chunkSize?: number;
  /** The annotation prefix; default the current one. */
  annotationPrefix?: string;
  /** Marks chunks of only zero bytes with chunkType "zeros"; default true. */
  zeroChunks?: boolean;
  /**
   * Wraps the TOC frame in a skippable frame, as current containers/storage
   * releases do; default true. skopeo 1.9.3 writes it as a plain frame.
   */
  tocInSkippableFrame?: boolean;
  /** Changes the TOC JSON before it is compressed, to build broken TOCs. */
  editToc?: (toc: { version: number; entries: Record<string, unknown>[] }) => void;
}

export interface TocLayer extends LayerBlob {
  /** The manifest annotations the layer descriptor needs. */
  annotations: Record<string, string>;
  /** The TOC document. */
  toc: { version: number; entries: Record<string, unknown>[] };
}

/**
 * Builds a zstd:chunked layer as containers/storage writes it: every run of
 * tar headers, and every chunk of a file's content, is its own zstd frame,
 * so the blob still decompresses to the plain tar. After the tar's end comes
 * a zstd frame of the TOC JSON, inside a skippable frame unless disabled,
 * and then a skippable frame with the TOC's position. The annotations state
 * that position and the digest of the TOC's frame.
 */
export async function makeZstdChunkedLayer(entries: readonly TarEntry[], options: ZstdChunkedOptions = {}): Promise<TocLayer> {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const prefix = options.annotationPrefix ?? ZSTD_CHUNKED_PREFIX;
  const tar = await makeLayerTar(entries);
  const { parts } = splitTar(tar);

  // Segments of the uncompressed tar, each compressed to one frame.
  const segments: Buffer[] = [];
  const plan: { part: (typeof parts)[number]; chunks: { start: number; end: number; segment: number }[] }[] = [];
  let cursor = 0;
  for (const part of parts) {
    segments.push(tar.subarray(cursor, part.contentStart));
    cursor = part.contentStart;
    const chunks = chunkRanges(part.size, chunkSize).map((range) => {
      segments.push(tar.subarray(part.contentStart + range.start, part.contentStart + range.end));
      return { ...range, segment: segments.length - 1 };
    });
    cursor = part.contentStart + part.size;
    plan.push({ part, chunks });
  }
  segments.push(tar.subarray(cursor));

  const frames = await zstdFrames(segments);
  const frameOffsets: number[] = [];
  let position = 0;
  for (const frame of frames) {
    frameOffsets.push(position);
    position += frame.length;
  }

  const toc: TocLayer["toc"] = { version: 1, entries: [] };
  for (const { part, chunks } of plan) {
    const entry: Record<string, unknown> = {
      type: tocType(part.typeflag),
      name: part.name,
      mode: part.mode,
      modtime: new Date(part.mtime * 1000).toISOString().replace(".000Z", "Z"),
    };
    if (part.linkName) entry.linkName = part.linkName;
    toc.entries.push(entry);
    if (part.size === 0) continue;
    const content = tar.subarray(part.contentStart, part.contentStart + part.size);
    entry.size = part.size;
    entry.digest = sha256Of(content);
    entry.offset = frameOffsets[chunks[0]!.segment];
    const last = chunks.at(-1)!;
    entry.endOffset = frameOffsets[last.segment]! + frames[last.segment]!.length;
    if (chunks.length === 1) continue;
    chunks.forEach((chunk, index) => {
      const bytes = content.subarray(chunk.start, chunk.end);
      const fields: Record<string, unknown> = index === 0 ? entry : { type: "chunk", name: part.name, offset: frameOffsets[chunk.segment], chunkOffset: chunk.start };
      fields.chunkSize = chunk.end - chunk.start;
      fields.chunkDigest = sha256Of(bytes);
      if (options.zeroChunks !== false && bytes.every((byte) => byte === 0)) fields.chunkType = "zeros";
      if (index > 0) toc.entries.push(fields);
    });
  }
  options.editToc?.(toc);

  const tocJson = Buffer.from(JSON.stringify(toc));
  const [tocFrame] = await zstdFrames([tocJson]);
  const wrapped = options.tocInSkippableFrame !== false;
  const tocOffset = wrapped ? position + 8 : position;
  const footer = skippableFooter(tocOffset, tocFrame!.length, tocJson.length);
  const tocBytes = wrapped ? Buffer.concat([skippableHeader(tocFrame!.length), tocFrame!]) : tocFrame!;
  const bytes = Buffer.concat([...frames, tocBytes, footer]);
  const annotations = {
    [prefix + "manifest-checksum"]: sha256Of(tocFrame!),
    [prefix + "manifest-position"]: `${tocOffset}:${tocFrame!.length}:${tocJson.length}:1`,
  };
  return { ...makeBlob(mediaTypes.ociLayerZstd, bytes), diffId: sha256Digest(tar), uncompressed: tar, entries, annotations, toc };
}

/** Builds the 8-byte header of a zstd skippable frame of `length` bytes. */
function skippableHeader(length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a50, 0);
  header.writeUInt32LE(length, 4);
  return header;
}

/** Builds the zstd skippable frame with the TOC position that ends a containers/storage blob. */
function skippableFooter(offset: number, length: number, uncompressedLength: number): Buffer {
  const footer = Buffer.alloc(8 + 40);
  footer.writeUInt32LE(0x184d2a50, 0);
  footer.writeUInt32LE(40, 4);
  footer.writeBigUInt64LE(BigInt(offset), 8);
  footer.writeBigUInt64LE(BigInt(length), 16);
  footer.writeBigUInt64LE(BigInt(uncompressedLength), 24);
  footer.writeBigUInt64LE(1n, 32);
  footer.write("GnUlInUx", 40, "latin1");
  return footer;
}

/** Compresses each buffer to one zstd frame, with one run of the `zstd` program for all of them. */
async function zstdFrames(buffers: readonly Buffer[]): Promise<Buffer[]> {
  const program = await requireTool("zstd");
  return withTempDir("zstd-frames", async (folder) => {
    const names = buffers.map((_, index) => join(folder, `segment-${index}`));
    await Promise.all(buffers.map((buffer, index) => writeFile(names[index]!, buffer)));
    await runCommand(program, ["-q", "-3", "--no-progress", ...names]);
    return Promise.all(names.map((name) => readFile(`${name}.zst`)));
  });
}
