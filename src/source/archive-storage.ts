import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { posix } from "node:path";
import { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import {
  normalizeMemberName,
  scanTar,
  type TarListing,
  type TarMember,
} from "./archive-tar-scan.js";
import { fileTooLarge, missingFile, type LayoutStorage } from "./layout-storage.js";

/** Max links followed from one name, so that a loop of links ends. */
const maxLinkHops = 8;

/**
 * The members of a tar archive, read in place: each file is a byte range of
 * the archive, found by one scan of its headers when the archive is opened.
 * Hard links and relative symbolic links to other members are followed.
 */
export class ArchiveStorage implements LayoutStorage {
  constructor(
    readonly location: string,
    private readonly listing: TarListing,
  ) {}

  /** Scans a plain tar archive. Throws BAD_REQUEST for a compressed file or a file that is no tar. */
  static async open(path: string): Promise<ArchiveStorage> {
    await rejectCompressed(path);
    const listing = await scanTar(path);
    if (listing.problem !== undefined) {
      log.warn("image archive is damaged, serving the members before the damage", {
        path,
        problem: listing.problem,
      });
    }
    return new ArchiveStorage(path, listing);
  }

  /** Returns the names at the top of the archive, sorted, for messages about what it contains. */
  topLevelNames(): string[] {
    const names = new Set<string>();
    for (const name of this.listing.members.keys()) names.add(name.split("/")[0]!);
    return [...names].sort();
  }

  /** Returns whether the archive has a member of this name, of any type. */
  has(path: string): boolean {
    return this.listing.members.has(path);
  }

  async sizeOf(path: string): Promise<number | undefined> {
    const member = this.resolve(path);
    return member?.type === "file" ? member.size : undefined;
  }

  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const member = this.requireComplete(path);
    if (member.size > maxBytes) throw fileTooLarge(this, path, member.size, maxBytes);

    const handle = await open(this.location, "r");
    try {
      const buffer = Buffer.alloc(member.size);
      const { bytesRead } = await handle.read(buffer, 0, member.size, member.offset);
      if (bytesRead < member.size) throw truncated(this, path, member, bytesRead);
      return buffer;
    } finally {
      await handle.close();
    }
  }

  async openFile(path: string): Promise<Readable> {
    const member = this.requireComplete(path);
    if (member.size === 0) return Readable.from([]);
    return createReadStream(this.location, {
      start: member.offset,
      end: member.offset + member.size - 1,
    });
  }

  private requireComplete(path: string): TarMember {
    const member = this.resolve(path);
    if (member?.type !== "file") throw missingFile(this, path, this.missingDetail());
    if (member.available < member.size) throw truncated(this, path, member, member.available);
    return member;
  }

  /** Follows links from `path` to the member with the content, or returns undefined when there is none. */
  private resolve(path: string): TarMember | undefined {
    let member = this.listing.members.get(path);
    for (let hop = 0; member && isLink(member) && hop < maxLinkHops; hop++) {
      const target = linkTarget(member);
      member = target === undefined ? undefined : this.listing.members.get(target);
    }
    return member && !isLink(member) ? member : undefined;
  }

  private missingDetail(): string {
    const { problem } = this.listing;
    return problem === undefined ? "" : ` (${problem}, so later members are missing)`;
  }
}

/** Leading bytes of the compressed formats that `docker save | ...` pipelines commonly produce. */
const compressionMagic: [string, Buffer][] = [
  ["gzip", Buffer.from([0x1f, 0x8b])],
  ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ["xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ["bzip2", Buffer.from("BZh")],
];

/**
 * Rejects a compressed archive. Blobs are read in place as byte ranges of
 * the archive, which a compressed stream does not allow without
 * decompressing everything before the range on every read.
 */
async function rejectCompressed(path: string): Promise<void> {
  const handle = await open(path, "r");
  const head = Buffer.alloc(6);
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }

  const format = compressionMagic.find(([, magic]) =>
    head.subarray(0, magic.length).equals(magic),
  )?.[0];
  if (format === undefined) return;
  throw new RegdavError(
    "BAD_REQUEST",
    `${path} is a ${format}-compressed file: regdav reads image archives in place ` +
      "and needs a plain tar, so decompress it first (for example with `gzip -dk` or `zstd -d`)",
  );
}

function isLink(member: TarMember): boolean {
  return member.type === "hardlink" || member.type === "symlink";
}

/**
 * Returns the member name a link points at. A hard link names a member. A
 * symbolic link is relative to its own folder and may not leave the archive.
 */
function linkTarget(member: TarMember): string | undefined {
  if (member.type === "hardlink") return normalizeMemberName(member.linkName);
  if (member.linkName.startsWith("/")) return undefined;

  const joined = posix.join(posix.dirname(member.name), member.linkName);
  return joined.startsWith("../") ? undefined : normalizeMemberName(joined);
}

function truncated(
  storage: LayoutStorage,
  path: string,
  member: TarMember,
  availableBytes: number,
): RegdavError {
  return new RegdavError(
    "SIZE_MISMATCH",
    `member ${path} of ${storage.location} is truncated: ` +
      `its header declares ${member.size} bytes, but the archive contains ${availableBytes}`,
  );
}
