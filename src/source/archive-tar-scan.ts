import { open, type FileHandle } from "node:fs/promises";

import { RegdavError } from "../errors.js";
import {
  isZeroBlock,
  parseTarHeaderBlock,
  readText,
  TAR_BLOCK_SIZE,
  type TarHeaderBlock,
} from "./archive-tar-header.js";

/**
 * A listing of the members of a tar archive on disk, made by reading only
 * the headers and seeking past each member's content, so that blobs can
 * later be read in place as byte ranges of the archive.
 */

export type TarMemberType = "file" | "hardlink" | "symlink" | "directory" | "other";

export interface TarMember {
  /** The name without `./` or `/` in front, `.` parts or a trailing `/`. */
  name: string;
  type: TarMemberType;
  /** Byte offset of the content in the archive. */
  offset: number;
  /** Content size that the header declares. */
  size: number;
  /** Content bytes the archive holds: less than `size` when it ends early. */
  available: number;
  /** The link target as stored, for hard and symbolic links. */
  linkName: string;
}

export interface TarListing {
  /** Members by name. For a name stored twice it is the later member, as tar extracts it. */
  members: Map<string, TarMember>;
  /** The damage that ended the scan before the end-of-archive marker, so later members are missing. */
  problem?: string;
}

/** Max size of a PAX or GNU long-name header's content, which is read into memory. */
const maxMetadataBytes = 1024 * 1024;

/** Fields that PAX and GNU long-name headers set for the member that follows them. */
interface PendingOverrides {
  name?: string;
  linkName?: string;
  size?: number;
}

/** PAX (`x`, `g`) and GNU long-name (`L`, `K`) headers, which describe the next member. */
const metadataTypeflags = new Set(["x", "g", "L", "K"]);

const memberTypes: Record<string, TarMemberType> = {
  "0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "5": "directory",
};

/**
 * Lists a tar archive's members. Throws BAD_REQUEST when the file does not
 * start with a tar header. Damage further on ends the scan and is recorded in `problem`.
 */
export async function scanTar(path: string): Promise<TarListing> {
  const handle = await open(path, "r");
  try {
    return await new TarScanner(path, handle, (await handle.stat()).size).scan();
  } finally {
    await handle.close();
  }
}

class TarScanner {
  private readonly listing: TarListing = { members: new Map() };
  private pending: PendingOverrides = {};

  constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly archiveSize: number,
  ) {}

  async scan(): Promise<TarListing> {
    let position = 0;
    while (position >= 0) position = await this.step(position);
    return this.listing;
  }

  /** Reads the header at `position` and returns where the next header starts, or -1 at the end. */
  private async step(position: number): Promise<number> {
    const block = await this.read(position, TAR_BLOCK_SIZE);
    if (block.length === 0) return this.stop("the archive ends without an end-of-archive block");
    if (block.length < TAR_BLOCK_SIZE) {
      return this.stop(`the archive ends inside the header at byte ${position}`);
    }
    if (isZeroBlock(block)) return -1;

    const header = parseTarHeaderBlock(block);
    if (typeof header === "string") return this.invalidHeader(position, header);
    return this.readMember(header, position);
  }

  /** Applies the header at `position` and returns where the next header starts, or -1 for damage. */
  private async readMember(header: TarHeaderBlock, position: number): Promise<number> {
    const offset = position + TAR_BLOCK_SIZE;
    const isMetadata = metadataTypeflags.has(header.typeflag);
    const size = isMetadata ? header.size : (this.pending.size ?? header.size);
    const available = Math.max(0, Math.min(size, this.archiveSize - offset));
    if (isMetadata && size > maxMetadataBytes) {
      return this.stop(`the extended header at byte ${position} exceeds ${maxMetadataBytes} bytes`);
    }
    if (available < size) return this.stopInside(header, isMetadata, position, available);

    await this.applyHeader(header, offset, size);
    return offset + Math.ceil(size / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE;
  }

  /** Records a member that the end of the archive cuts short, so reads of it can name it. */
  private stopInside(
    header: TarHeaderBlock,
    isMetadata: boolean,
    position: number,
    available: number,
  ): number {
    if (isMetadata) {
      return this.stop(`the archive ends inside the extended header at byte ${position}`);
    }

    const name = this.memberName(header);
    const size = this.pending.size ?? header.size;
    this.record(header, position + TAR_BLOCK_SIZE, size, available);
    return this.stop(`the archive ends inside member ${name}`);
  }

  private async applyHeader(header: TarHeaderBlock, offset: number, size: number): Promise<void> {
    switch (header.typeflag) {
      case "x":
        this.pending = { ...this.pending, ...(await this.readPaxOverrides(offset, size)) };
        return;
      case "g":
        return;
      case "L":
        this.pending.name = readText(await this.read(offset, size), 0, size);
        return;
      case "K":
        this.pending.linkName = readText(await this.read(offset, size), 0, size);
        return;
      default:
        this.record(header, offset, size, size);
    }
  }

  private record(header: TarHeaderBlock, offset: number, size: number, available: number): void {
    const name = normalizeMemberName(this.memberName(header));
    const linkName = this.pending.linkName ?? header.linkName;
    this.pending = {};
    if (name === undefined) return;

    const type = memberTypes[header.typeflag] ?? "other";
    this.listing.members.set(name, { name, type, offset, size, available, linkName });
  }

  private memberName(header: TarHeaderBlock): string {
    return this.pending.name ?? header.name;
  }

  /** Reads the PAX keys that locate a member. An empty value means "use the header field". */
  private async readPaxOverrides(offset: number, size: number): Promise<PendingOverrides> {
    const records = parsePaxRecords(await this.read(offset, size));
    const overrides: PendingOverrides = {};
    const path = records.get("path");
    const linkPath = records.get("linkpath");
    const memberSize = records.get("size");
    if (path) overrides.name = path;
    if (linkPath) overrides.linkName = linkPath;
    if (memberSize && /^[0-9]+$/.test(memberSize)) overrides.size = Number(memberSize);
    return overrides;
  }

  private invalidHeader(position: number, problem: string): number {
    if (position === 0) {
      throw new RegdavError(
        "BAD_REQUEST",
        `${this.path} is not a tar archive: ${problem} in the first header`,
      );
    }
    return this.stop(`invalid tar header at byte ${position}: ${problem}`);
  }

  private stop(problem: string): number {
    this.listing.problem = problem;
    return -1;
  }

  private async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  }
}

/**
 * Parses PAX records, `"<length> <key>=<value>\n"` with the length counting
 * the whole record in bytes. A malformed record ends the parse.
 */
function parsePaxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(0x20, position);
    const length = Number(data.toString("latin1", position, space));
    const end = position + length;
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || end > data.length) break;

    const record = data.toString("utf8", space + 1, end - 1);
    const equals = record.indexOf("=");
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    position = end;
  }
  return records;
}

/**
 * Normalizes a member name for lookups: `./blobs//sha256/x` is
 * `blobs/sha256/x`. Returns undefined for the archive's root folder and for
 * names with a `..` part, which no lookup can ask for.
 */
export function normalizeMemberName(raw: string): string | undefined {
  const parts = raw.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.length === 0 || parts.includes("..")) return undefined;
  return parts.join("/");
}
