import { gzipSync } from "node:zlib";

import { makeBlob, mediaTypes, sha256Digest } from "./image-builder.js";
import { makeLayerTar, type TarEntry } from "./layer-tar.js";
import { chunkRanges, sha256Of, splitTar, tocType } from "./toc-layer-parts.js";
import type { TocLayer } from "./zstd-chunked.js";

export interface EstargzOptions {
  /** Files larger than this are split into chunks of this size; default 64 KiB. */
  chunkSize?: number;
  /** Writes the 47-byte footer of the older stargz format instead of the 51-byte one. */
  legacyFooter?: boolean;
  /** Changes the TOC JSON before it is written, to build broken TOCs. */
  editToc?: (toc: { version: number; entries: Record<string, unknown>[] }) => void;
}

/**
 * Builds an eStargz layer as containerd's stargz-snapshotter describes it:
 * a gzip stream of many members, where tar headers and each chunk of a
 * file's content start new members, then a member containing a tar of one
 * entry, `stargz.index.json` (the TOC), and last an empty member whose
 * extra field contains the TOC offset. The annotations give the TOC's digest.
 */
export function makeEstargzLayer(tar: Buffer, entries: readonly TarEntry[], options: EstargzOptions = {}): TocLayer {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const { parts, end } = splitTar(tar);
  const members: Buffer[] = [];
  let position = 0;
  const addMember = (bytes: Buffer) => {
    const member = gzipSync(bytes);
    const offset = position;
    members.push(member);
    position += member.length;
    return offset;
  };

  const toc: TocLayer["toc"] = { version: 1, entries: [] };
  let cursor = 0;
  for (const part of parts) {
    addMember(tar.subarray(cursor, part.contentStart));
    const entry: Record<string, unknown> = {
      name: part.name,
      type: tocType(part.typeflag),
      mode: part.mode,
      modtime: new Date(part.mtime * 1000).toISOString().replace(".000Z", "Z"),
    };
    if (part.linkName) entry.linkName = part.linkName;
    toc.entries.push(entry);
    cursor = part.contentStart + part.size;
    if (part.size === 0) continue;
    const content = tar.subarray(part.contentStart, cursor);
    entry.size = part.size;
    entry.digest = sha256Of(content);
    chunkRanges(part.size, chunkSize).forEach((range, index) => {
      const bytes = content.subarray(range.start, range.end);
      const fields: Record<string, unknown> = index === 0 ? entry : { name: part.name, type: "chunk" };
      fields.offset = addMember(bytes);
      fields.chunkOffset = range.start;
      fields.chunkSize = range.end - range.start;
      fields.chunkDigest = sha256Of(bytes);
      if (index > 0) toc.entries.push(fields);
    });
  }
  // The padding after the last file; the TOC member carries the end of the archive.
  addMember(tar.subarray(cursor, end));
  options.editToc?.(toc);

  const tocJson = Buffer.from(JSON.stringify(toc));
  const tocOffset = position;
  const tocMember = tocTar(tocJson);
  members.push(gzipSync(tocMember));
  members.push(options.legacyFooter ? legacyFooter(tocOffset) : footer(tocOffset));
  const bytes = Buffer.concat(members);
  const annotations = {
    "containerd.io/snapshot/stargz/toc.digest": sha256Of(tocJson),
    "io.containers.estargz.uncompressed-size": String(tar.length),
  };
  // The blob decompresses to the tar up to its end-of-archive blocks, then the TOC's tar.
  const uncompressed = Buffer.concat([tar.subarray(0, end), tocMember]);
  return { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(uncompressed), uncompressed, entries, annotations, toc };
}

/** Builds an eStargz layer from tar entries. */
export async function makeEstargzLayerOf(entries: readonly TarEntry[], options: EstargzOptions = {}): Promise<TocLayer> {
  return makeEstargzLayer(await makeLayerTar(entries), entries, options);
}

/** Builds a tar of only `stargz.index.json`, followed by the end-of-archive blocks. */
function tocTar(json: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write("stargz.index.json", 0, "utf8");
  header.write("0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(json.length.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.write("        ", 148, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\0" + "00", 257, "latin1");
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  const padding = Buffer.alloc((512 - (json.length % 512)) % 512);
  return Buffer.concat([header, json, padding, Buffer.alloc(1024)]);
}

/** Builds the 51-byte footer: an empty gzip member whose extra subfield `SG` contains the TOC offset and "STARGZ". */
export function footer(tocOffset: number): Buffer {
  const payload = Buffer.from(tocOffset.toString(16).padStart(16, "0") + "STARGZ", "latin1");
  const extra = Buffer.concat([Buffer.from("SG", "latin1"), u16(payload.length), payload]);
  return emptyMemberWithExtra(extra);
}

/** Builds the 47-byte footer of the older stargz format, whose whole extra field is the payload. */
export function legacyFooter(tocOffset: number): Buffer {
  return emptyMemberWithExtra(Buffer.from(tocOffset.toString(16).padStart(16, "0") + "STARGZ", "latin1"));
}

function emptyMemberWithExtra(extra: Buffer): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff]);
  // A final stored block of length 0, then CRC-32 and size of empty input.
  const body = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, u16(extra.length), extra, body]);
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value);
  return bytes;
}
