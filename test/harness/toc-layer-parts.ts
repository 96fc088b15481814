import { createHash } from "node:crypto";

/** One tar member of a built layer, with where its header and content sit in the uncompressed tar. */
export interface TarPart {
  name: string;
  typeflag: string;
  linkName: string;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  /** Start of the member's first header, PAX headers included. */
  headerStart: number;
  /** Start of the content; equal to the end of the headers. */
  contentStart: number;
}

/**
 * Splits an uncompressed tar into its members, as TOC layer builders need
 * to compress headers and file contents into separate frames or members.
 * PAX and GNU long-name headers are folded into the member they precede,
 * with the name they override.
 */
export function splitTar(tar: Buffer): { parts: TarPart[]; end: number } {
  const parts: TarPart[] = [];
  let offset = 0;
  let headerStart = 0;
  let overrideName: string | undefined;
  let overrideLink: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = Number.parseInt(text(header, 124, 12) || "0", 8);
    const typeflag = String.fromCharCode(header[156]!) === "\0" ? "0" : String.fromCharCode(header[156]!);
    const contentStart = offset + 512;
    const next = contentStart + Math.ceil(size / 512) * 512;
    if (typeflag === "x" || typeflag === "L" || typeflag === "K") {
      const data = tar.subarray(contentStart, contentStart + size).toString("utf8");
      if (typeflag === "x") {
        overrideName = /\d+ path=([^\n]*)\n/.exec(data)?.[1] ?? overrideName;
        overrideLink = /\d+ linkpath=([^\n]*)\n/.exec(data)?.[1] ?? overrideLink;
      } else if (typeflag === "L") overrideName = data.replace(/\0+$/, "");
      else overrideLink = data.replace(/\0+$/, "");
      offset = next;
      continue;
    }
    const prefix = text(header, 345, 155);
    const baseName = text(header, 0, 100);
    parts.push({
      name: overrideName ?? (prefix ? `${prefix}/${baseName}` : baseName),
      typeflag,
      linkName: overrideLink ?? text(header, 157, 100),
      mode: Number.parseInt(text(header, 100, 8) || "0", 8),
      mtime: Number.parseInt(text(header, 136, 12) || "0", 8),
      size: ["0", "7"].includes(typeflag) ? size : 0,
      headerStart,
      contentStart,
    });
    overrideName = undefined;
    overrideLink = undefined;
    offset = next;
    headerStart = next;
  }
  return { parts, end: offset };
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString("utf8").trim();
}

/** Maps a tar type flag to the type name of eStargz and zstd:chunked TOC entries. */
export function tocType(typeflag: string): string {
  const types: Record<string, string> = { "0": "reg", "7": "reg", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };
  const type = types[typeflag];
  if (!type) throw new Error(`no TOC type for tar type flag ${JSON.stringify(typeflag)}`);
  return type;
}

export function sha256Of(bytes: Buffer): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** Splits `size` bytes into chunks of `chunkSize`, the last one shorter. */
export function chunkRanges(size: number, chunkSize: number): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (let start = 0; start < size; start += chunkSize) ranges.push({ start, end: Math.min(size, start + chunkSize) });
  return ranges;
}
