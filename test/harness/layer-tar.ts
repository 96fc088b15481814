import { gzipSync } from "node:zlib";

import * as tar from "tar-stream";

import { requireTool, runCommand } from "./tools.js";

/** Fields every tar entry may set; defaults are listed on each. */
interface EntryCommon {
  /** The name stored in the archive as given, which may be absolute or contain `..`. */
  path: string;
  /** Permission bits including setuid, setgid and sticky (0o7777 at most). */
  mode?: number;
  /** Default 2024-01-01T00:00:00Z, so that the same entries give the same digest. */
  mtime?: Date;
  /** Default 0. */
  uid?: number;
  /** Default 0. */
  gid?: number;
  uname?: string;
  gname?: string;
  /** Extra PAX extended header records, such as `SCHILY.xattr.user.key`. */
  pax?: Record<string, string>;
}

export type TarEntry =
  | (EntryCommon & { type: "file"; content?: Buffer | string })
  | (EntryCommon & { type: "directory" })
  | (EntryCommon & { type: "symlink"; target: string })
  /** A hard link. `target` is the archive name of an earlier entry. */
  | (EntryCommon & { type: "hardlink"; target: string })
  | (EntryCommon & { type: "fifo" })
  | (EntryCommon & { type: "char-device" | "block-device"; devmajor: number; devminor: number });

export type Compression = "none" | "gzip" | "zstd";

export const defaultMtime = new Date("2024-01-01T00:00:00Z");

/**
 * Default permission bits by entry type. Files and folders get the modes that
 * umask 022 gives, and devices the modes common in /dev.
 */
const defaultModes: Record<TarEntry["type"], number> = {
  file: 0o644,
  directory: 0o755,
  symlink: 0o777,
  hardlink: 0o644,
  fifo: 0o644,
  "char-device": 0o666,
  "block-device": 0o660,
};

/**
 * File-type bits of st_mode. tar-stream replaces a mode of 0 with its own
 * default, so the type bit is added to keep modes such as 0o000. tar-stream
 * masks it off again when it writes the header.
 */
const typeBits: Record<TarEntry["type"], number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  hardlink: 0o100000,
  fifo: 0o010000,
  "char-device": 0o020000,
  "block-device": 0o060000,
};

const tarTypes = {
  file: "file",
  directory: "directory",
  symlink: "symlink",
  hardlink: "link",
  fifo: "fifo",
  "char-device": "character-device",
  "block-device": "block-device",
} as const;

type PackHeader = Partial<tar.Header> & Pick<tar.Header, "name">;

/**
 * Builds an uncompressed tar archive in memory, with the entries in the given
 * order. Directory names get a trailing `/` as GNU tar writes them. Names and
 * link targets that ustar cannot store (too long, or not ASCII) go into PAX
 * headers.
 */
export async function makeLayerTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();

  for (const entry of entries) {
    await addEntry(pack, entry);
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

function addEntry(pack: tar.Pack, entry: TarEntry): Promise<void> {
  const header: PackHeader = {
    name: entry.type === "directory" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path,
    type: tarTypes[entry.type],
    mode: typeBits[entry.type] | (entry.mode ?? defaultModes[entry.type]),
    mtime: entry.mtime ?? defaultMtime,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
  };
  if (entry.uname !== undefined) header.uname = entry.uname;
  if (entry.gname !== undefined) header.gname = entry.gname;
  if (entry.pax !== undefined) header.pax = entry.pax;
  if (entry.type === "symlink" || entry.type === "hardlink") header.linkname = entry.target;
  if (entry.type === "char-device" || entry.type === "block-device") {
    header.devmajor = entry.devmajor;
    header.devminor = entry.devminor;
  }

  const content = entry.type === "file" ? Buffer.from(entry.content ?? "") : Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
  });
}

/** Compresses with gzip. zlib writes a zero timestamp into the header, so output is stable. */
export function gzip(bytes: Buffer): Buffer {
  return gzipSync(bytes);
}

/** Compresses with the `zstd` program, at level 3 unless `level` is given. */
export async function zstd(bytes: Buffer, level = 3): Promise<Buffer> {
  const program = await requireTool("zstd");
  const { stdout } = await runCommand(program, [`-${level}`, "-q", "-c", "-"], { input: bytes });
  return stdout;
}

/** Decompresses zstd data with the `zstd` program. */
export async function unzstd(bytes: Buffer): Promise<Buffer> {
  const program = await requireTool("zstd");
  const { stdout } = await runCommand(program, ["-d", "-q", "-c", "-"], { input: bytes });
  return stdout;
}

export async function compress(bytes: Buffer, compression: Compression): Promise<Buffer> {
  switch (compression) {
    case "none":
      return bytes;
    case "gzip":
      return gzip(bytes);
    case "zstd":
      return zstd(bytes);
  }
}
