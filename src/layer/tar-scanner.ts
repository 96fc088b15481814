import { invalidTarError } from "./layer-errors.js";
import type { LayerLimits } from "./layer-limits.js";
import { parsePaxRecordList, readPaxOverrides } from "./pax-records.js";
import {
  readGnuSparseExtension,
  readGnuSparseHeader,
  readPaxSparse,
  sparseMapProblem,
  SparseMapText,
  type PaxSparse,
  type SparseSegments,
} from "./sparse-map.js";
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
  /** Content bytes; 0 for types that carry none. For a sparse file, its size with the holes. */
  size: number;
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
  linkName: string;
  headerOffset: number;
  /** Offset of the first content byte in the uncompressed stream. */
  dataOffset: number;
  /** For a GNU sparse file, where its stored bytes, which start at dataOffset, lie in the file. */
  sparse?: SparseSegments;
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
  paxSparse?: PaxSparse;
}

/**
 * A sparse member whose map is still being read: from the extension blocks
 * after an old GNU header, or from the start of the data (PAX format 1.0).
 */
interface SparseDraft {
  member: TarMember;
  /** Bytes of the data area that the header's size field or PAX size gives. */
  dataBytes: number;
  /** The entries read so far from old GNU extension blocks. */
  segments: SparseSegments;
  /** The reader of a format 1.0 map; undefined for old GNU extension blocks. */
  mapText: SparseMapText | undefined;
  /** Map blocks read so far. */
  blockCount: number;
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
  private sparse: SparseDraft | undefined;
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
    const insideMember = this.extended || this.sparse || danglingHeader || this.blockFilled > 0;
    if (insideMember || (this.skipRemaining > 0 && !onlyPaddingMissing)) {
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

  /** Handles one block of a sparse map: an old GNU extension block, or part of a 1.0 map. */
  private processSparseBlock(blockOffset: number): void {
    const draft = this.sparse!;
    const fail = (problem: string) => this.fail(blockOffset, problem);
    draft.blockCount++;
    const mapBytes = draft.blockCount * BLOCK_SIZE;
    if (mapBytes > this.limits.maxPaxHeaderSize) {
      const limit = this.limits.maxPaxHeaderSize;
      throw fail(`GNU sparse map longer than the maxPaxHeaderSize limit of ${limit} bytes`);
    }

    if (draft.mapText === undefined) {
      if (readGnuSparseExtension(this.block, draft.segments, fail)) return;
      this.sparse = undefined;
      return this.emitSparse(draft.member, draft.segments, draft.dataBytes);
    }
    const segments = draft.mapText.addBlock(this.block, fail);
    if (segments === undefined && mapBytes < draft.dataBytes) return;
    if (segments === undefined || mapBytes > draft.dataBytes) {
      throw fail("GNU sparse map does not end within the member's data");
    }
    this.sparse = undefined;
    this.emitSparse(draft.member, segments, draft.dataBytes - mapBytes);
  }

  /** Emits a sparse member whose map is complete, with `storedBytes` of data from here on. */
  private emitSparse(member: TarMember, segments: SparseSegments, storedBytes: number): void {
    const problem = sparseMapProblem(segments, member.size, storedBytes);
    if (problem !== undefined) throw this.fail(member.headerOffset, problem);
    this.onMember({ ...member, dataOffset: this.offset, sparse: segments });
    this.skipRemaining = storedBytes + paddingOf(storedBytes);
    this.skipPadding = paddingOf(storedBytes);
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
      if (this.sparse) this.processSparseBlock(this.offset - BLOCK_SIZE);
      else this.processHeader(this.offset - BLOCK_SIZE);
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
    const isPax = typeflag === "x" || typeflag === "g";
    const records = isPax ? parsePaxRecordList(data, fail) : undefined;
    if (typeflag === "x" && records) this.applyPaxRecords(records, fail);
  }

  private applyPaxRecords(records: [string, string][], fail: (problem: string) => Error): void {
    const overrides = readPaxOverrides(new Map(records), fail);
    const pending = this.pending;
    pending.paxPath = overrides.path ?? pending.paxPath;
    pending.paxLinkPath = overrides.linkPath ?? pending.paxLinkPath;
    pending.paxSize = overrides.size ?? pending.paxSize;
    pending.paxModified = overrides.modified ?? pending.paxModified;
    pending.paxSparse = readPaxSparse(records, fail) ?? pending.paxSparse;
  }

  private emitMember(header: TarHeader, headerOffset: number): void {
    const pending = this.pending;
    this.pending = {};
    this.memberCount++;
    if (this.memberCount > this.limits.maxEntries) {
      const problem = `more than ${this.limits.maxEntries} entries; raise maxEntries to index it`;
      throw this.fail(headerOffset, problem);
    }

    const name = pending.paxSparse?.name ?? pending.paxPath ?? pending.longName ?? header.name;
    const linkName = pending.paxLinkPath ?? pending.longLinkName ?? header.linkName;
    this.checkPathLength(name, headerOffset);
    this.checkPathLength(linkName, headerOffset);

    const size = HEADER_ONLY_TYPES.has(header.typeflag) ? 0 : (pending.paxSize ?? header.size);
    const modified = pending.paxModified ?? header.mtime * 1000;
    const dataOffset = headerOffset + BLOCK_SIZE;
    const { typeflag, mode } = header;
    const member = { name, typeflag, size, mode, modified, linkName, headerOffset, dataOffset };
    if (typeflag === "S") return this.startGnuSparse(member);
    // Only regular files can be sparse, as in GNU tar.
    const regular = typeflag === "0" || typeflag === "7";
    if (pending.paxSparse && regular) return this.startPaxSparse(member, pending.paxSparse);
    this.onMember(member);
    this.skipRemaining = size + paddingOf(size);
    this.skipPadding = paddingOf(size);
  }

  /** Reads the map of an old GNU sparse header, whose size field counts only the stored bytes. */
  private startGnuSparse(member: TarMember): void {
    const fail = (problem: string) => this.fail(member.headerOffset, problem);
    const gnu = readGnuSparseHeader(this.block, fail);
    const sparseMember = { ...member, typeflag: "0", size: gnu.realSize };
    if (!gnu.extended) return this.emitSparse(sparseMember, gnu.segments, member.size);
    const { segments } = gnu;
    const dataBytes = member.size;
    this.sparse = { member: sparseMember, dataBytes, segments, mapText: undefined, blockCount: 0 };
  }

  /** Starts a sparse member that PAX records describe. Format 1.0 reads its map from the data. */
  private startPaxSparse(member: TarMember, paxSparse: PaxSparse): void {
    const sparseMember = { ...member, size: paxSparse.realSize };
    if (!paxSparse.mapInData) return this.emitSparse(sparseMember, paxSparse.segments, member.size);
    const mapText = new SparseMapText();
    const dataBytes = member.size;
    this.sparse = { member: sparseMember, dataBytes, segments: [], mapText, blockCount: 0 };
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
