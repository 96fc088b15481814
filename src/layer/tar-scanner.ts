import { invalidTarError } from "./layer-errors.js";
import type { LayerLimits } from "./layer-limits.js";
import { parsePaxRecords, readPaxOverrides } from "./pax-records.js";
import {
  BLOCK_SIZE,
  decodeTarText,
  isZeroBlock,
  parseTarHeader,
  type TarHeader,
} from "./tar-header.js";

/** One member after its PAX and GNU overrides are applied. */
export interface TarMember {
  name: string;
  typeflag: string;
  /** Content bytes that follow the header; 0 for types that carry none. */
  size: number;
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
  linkName: string;
  headerOffset: number;
  /** Offset of the first content byte in the uncompressed stream. */
  dataOffset: number;
}

/**
 * Type flags whose size field is not followed by content: links, devices,
 * folders and fifos. Go's archive/tar, which Docker and containerd use,
 * reads them this way too.
 */
const HEADER_ONLY_TYPES = new Set(["1", "2", "3", "4", "5", "6"]);

interface ExtendedHeader {
  typeflag: string;
  headerOffset: number;
  data: Buffer;
  filled: number;
}

/** Overrides collected from the extended headers before the next member. */
interface PendingOverrides {
  paxPath?: string;
  paxLinkPath?: string;
  paxSize?: number;
  paxModified?: number;
  longName?: string;
  longLinkName?: string;
  sparse?: boolean;
}

/**
 * A push parser for an uncompressed tar stream that reports every member with
 * the offset of its content. It counts every byte itself, so PAX (`x`, `g`)
 * and GNU long-name (`L`, `K`) headers are accounted for. It keeps at most
 * one header block, or one extended header within its limit, in memory.
 */
export class TarScanner {
  private offset = 0;
  private readonly block = Buffer.alloc(BLOCK_SIZE);
  private blockFilled = 0;
  private skipRemaining = 0;
  /** The block padding at the end of the current skip, which the stream may end without. */
  private skipPadding = 0;
  private extended: ExtendedHeader | undefined;
  private pending: PendingOverrides = {};
  private zeroBlocks = 0;
  private finished = false;
  private memberCount = 0;

  constructor(
    private readonly onMember: (member: TarMember) => void,
    private readonly digest: string,
    private readonly limits: LayerLimits,
  ) {}

  /** Parses the next bytes of the stream; throws INVALID_LAYER on a malformed tar. */
  write(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length) {
      position += this.consume(chunk, position, chunk.length - position);
    }
  }

  /**
   * Checks that the stream did not stop inside a header or a member's
   * content. Like Go's archive/tar, which Docker and containerd extract
   * with, it accepts a stream that ends in the padding after the last
   * member's content: umoci 0.4.7 (Debian 12) writes layers without that
   * padding and without end-of-archive blocks.
   */
  end(): void {
    if (this.finished) return;
    const onlyPaddingMissing = this.skipRemaining > 0 && this.skipRemaining <= this.skipPadding;
    // A PAX or GNU long-name header whose member never came.
    const danglingHeader = Object.keys(this.pending).length > 0;
    if (this.extended || danglingHeader || (this.skipRemaining > 0 && !onlyPaddingMissing) || this.blockFilled > 0) {
      const problem = "unexpected end of the stream inside a tar member (truncated layer)";
      throw this.fail(this.offset, problem);
    }
  }

  private consume(chunk: Buffer, position: number, available: number): number {
    if (this.finished) {
      // Bytes after the end-of-archive blocks (record padding) are hashed but not parsed.
      this.offset += available;
      return available;
    }
    if (this.skipRemaining > 0) return this.skip(available);
    if (this.extended) return this.collect(chunk, position, available);
    return this.fillHeader(chunk, position, available);
  }

  private skip(available: number): number {
    const count = Math.min(available, this.skipRemaining);
    this.skipRemaining -= count;
    this.offset += count;
    return count;
  }

  private fillHeader(chunk: Buffer, position: number, available: number): number {
    const count = Math.min(available, BLOCK_SIZE - this.blockFilled);
    chunk.copy(this.block, this.blockFilled, position, position + count);
    this.blockFilled += count;
    this.offset += count;

    if (this.blockFilled === BLOCK_SIZE) {
      this.blockFilled = 0;
      this.processHeader(this.offset - BLOCK_SIZE);
    }
    return count;
  }

  private processHeader(headerOffset: number): void {
    if (isZeroBlock(this.block)) {
      this.zeroBlocks++;
      this.finished = this.zeroBlocks === 2;
      return;
    }
    if (this.zeroBlocks > 0) {
      throw this.fail(headerOffset, "a header follows a single end-of-archive zero block");
    }

    const header = parseTarHeader(this.block, headerOffset, this.digest);
    switch (header.typeflag) {
      case "x":
      case "g":
      case "L":
      case "K":
        return this.startExtended(header, headerOffset);
      case "S":
        throw this.fail(headerOffset, "GNU sparse files are not supported");
      case "M":
        throw this.fail(headerOffset, "multi-volume continuation members are not supported");
      default:
        return this.emitMember(header, headerOffset);
    }
  }

  private startExtended(header: TarHeader, headerOffset: number): void {
    const isPax = header.typeflag === "x" || header.typeflag === "g";
    // A GNU long name is NUL-terminated, so it may be one byte over the path limit.
    const limit = isPax ? this.limits.maxPaxHeaderSize : this.limits.maxPathBytes + 1;
    if (header.size > limit) {
      const headerKind = isPax ? "PAX extended header" : "GNU long name";
      const problem = `${headerKind} of ${header.size} bytes exceeds the limit of ${limit} bytes`;
      throw this.fail(headerOffset, problem);
    }

    const data = Buffer.alloc(header.size);
    this.extended = { typeflag: header.typeflag, headerOffset, data, filled: 0 };
    if (header.size === 0) this.finishExtended();
  }

  private collect(chunk: Buffer, position: number, available: number): number {
    const extended = this.extended!;
    const count = Math.min(available, extended.data.length - extended.filled);
    chunk.copy(extended.data, extended.filled, position, position + count);
    extended.filled += count;
    this.offset += count;

    if (extended.filled === extended.data.length) this.finishExtended();
    return count;
  }

  private finishExtended(): void {
    const { typeflag, headerOffset, data } = this.extended!;
    this.extended = undefined;
    this.skipRemaining = paddingOf(data.length);
    // A stream that ends here lacks the member this header describes.
    this.skipPadding = 0;

    const fail = (problem: string) => this.fail(headerOffset, problem);
    if (typeflag === "L") this.pending.longName = decodeTarText(untilNul(data));
    if (typeflag === "K") this.pending.longLinkName = decodeTarText(untilNul(data));
    // Global records are checked but not applied. Go's archive/tar returns
    // them as a header of their own, and Docker's layer unpacking skips it.
    const records = typeflag === "x" || typeflag === "g" ? parsePaxRecords(data, fail) : undefined;
    if (typeflag === "x" && records) this.applyPaxRecords(records, fail);
  }

  private applyPaxRecords(records: Map<string, string>, fail: (problem: string) => Error): void {
    const overrides = readPaxOverrides(records, fail);
    const pending = this.pending;
    pending.paxPath = overrides.path ?? pending.paxPath;
    pending.paxLinkPath = overrides.linkPath ?? pending.paxLinkPath;
    pending.paxSize = overrides.size ?? pending.paxSize;
    pending.paxModified = overrides.modified ?? pending.paxModified;
    pending.sparse = pending.sparse || overrides.sparse;
  }

  private emitMember(header: TarHeader, headerOffset: number): void {
    const pending = this.pending;
    this.pending = {};
    if (pending.sparse) {
      throw this.fail(headerOffset, "GNU sparse files (PAX GNU.sparse records) are not supported");
    }
    this.memberCount++;
    if (this.memberCount > this.limits.maxEntries) {
      const problem = `more than ${this.limits.maxEntries} entries; raise maxEntries to index it`;
      throw this.fail(headerOffset, problem);
    }

    const name = pending.paxPath ?? pending.longName ?? header.name;
    const linkName = pending.paxLinkPath ?? pending.longLinkName ?? header.linkName;
    this.checkPathLength(name, headerOffset);
    this.checkPathLength(linkName, headerOffset);

    const size = HEADER_ONLY_TYPES.has(header.typeflag) ? 0 : (pending.paxSize ?? header.size);
    const modified = pending.paxModified ?? header.mtime * 1000;
    const dataOffset = headerOffset + BLOCK_SIZE;
    const { typeflag, mode } = header;
    this.onMember({ name, typeflag, size, mode, modified, linkName, headerOffset, dataOffset });
    this.skipRemaining = size + paddingOf(size);
    this.skipPadding = paddingOf(size);
  }

  private checkPathLength(path: string, headerOffset: number): void {
    const length = Buffer.byteLength(path);
    if (length <= this.limits.maxPathBytes) return;
    const limit = this.limits.maxPathBytes;
    const problem = `name of ${length} bytes exceeds the maxPathBytes limit of ${limit}`;
    throw this.fail(headerOffset, problem);
  }

  private fail(offset: number, problem: string): Error {
    return invalidTarError(this.digest, offset, problem);
  }
}

/** Bytes of zero padding after `size` content bytes, up to the next block boundary. */
function paddingOf(size: number): number {
  const remainder = size % BLOCK_SIZE;
  return remainder === 0 ? 0 : BLOCK_SIZE - remainder;
}

function untilNul(data: Buffer): Buffer {
  const end = data.indexOf(0);
  return end < 0 ? data : data.subarray(0, end);
}
