import { createReadStream } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { PassThrough, Readable } from "node:stream";
import { LRUCache } from "lru-cache";

import { log } from "../log.js";
import { RegdavError } from "../errors.js";
import type { ChunkTable } from "../layer/toc/chunk-table.js";
import { readTocContent } from "../layer/toc/chunk-reader.js";
import type { TocListing } from "../layer/toc/toc-index.js";
import { parseTocListing, serializeTocListing, TOC_RECORD_VERSION } from "../layer/toc/toc-record.js";
import type { ZtocAccess } from "../layer/soci/ztoc-access.js";
import type { ZtocListing } from "../layer/soci/ztoc-listing.js";
import { checkZtocFileHeader, type ZtocFileExtent } from "../layer/soci/ztoc-header-check.js";
import { BLOCK_SIZE } from "../layer/tar-header.js";
import { WrongZtocError } from "../layer/soci/ztoc-error.js";
import { readZtocRange } from "../layer/soci/ztoc-range-reader.js";
import {
  isRandomAccessUseful,
  parseRandomAccessIndex,
  RANDOM_ACCESS_FORMAT_VERSION,
  readUncompressedRange,
  type RandomAccessIndex,
} from "../layer/random-access/index.js";
import { RangeIgnoredError } from "../registry/blob-range.js";
import type { BlobDescriptor } from "../source/image-source.js";
import type { BlobOpener, BlobStore } from "./blob-store.js";
import { writeFileAtomic } from "./atomic-file.js";
import { removeEarlierVersions, type CacheLayout } from "./cache-layout.js";
import { DecodedIntervals, type AccessInterval, type AccessPoints } from "./decoded-intervals.js";

/** Opens bytes `start` to `end` (inclusive) of a blob where it is stored, usually by HTTP Range. */
export type BlobRangeOpener = (start: number, end: number) => Promise<Readable>;

/** The source of a blob that is not in the cache, for reads of its contents. */
export interface RemoteBlob {
  descriptor: BlobDescriptor;
  /** Undefined for a source that cannot read ranges: the blob is then downloaded whole. */
  openRange: BlobRangeOpener | undefined;
  openWhole: BlobOpener;
  /** Named in errors. */
  repository: string;
}

/**
 * The offset space and access path of a read: the uncompressed tar, the
 * content space of a TOC listing, or the uncompressed tar read through the
 * checkpoints of a SOCI zTOC.
 */
export type ContentOffsets = "tar" | "toc" | "soci";

/** Reads a stored zTOC and rebuilds its listing; undefined when none is stored. */
export type ZtocListingLoader = (digest: string) => Promise<ZtocListing | undefined>;
/** Records that a read proved the zTOC of layer `digest` wrong, for `reason`, so that later processes do not use it. */
export type WrongZtocRecorder = (digest: string, reason: string) => Promise<void>;

/** Chunk tables held in memory, at roughly 200 bytes per chunk. */
const MAX_CHUNK_TABLE_BYTES = 64 * 1024 * 1024;

/** Random-access indexes held in memory; each is about 0.8% of its compressed layer. */
const MAX_ACCESS_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * Reads up to this many bytes are served from memory: from decoded
 * intervals for a compressed layer read by tar offsets, or from the read
 * itself for a TOC layer. Decoding from a checkpoint inflates up to one
 * checkpoint interval (4 MiB) per read, and file managers and `grep -r`
 * read neighbouring files, and the same files, again and again. Larger
 * reads are streamed.
 */
const MAX_REMEMBERED_READ = 1024 * 1024;
const MAX_REMEMBERED_BYTES = 64 * 1024 * 1024;
/** Memory for decoded intervals: about 16 gzip intervals of 4 MiB. */
const MAX_DECODED_INTERVAL_BYTES = 64 * 1024 * 1024;

/**
 * Reads file contents out of indexed layers. A layer whose pass recorded
 * random-access points is read from its compressed blob: from the cached
 * blob when it is on disk, else with one Range request to the source for
 * just the span that contains the bytes. A layer without them (a zstd layer of
 * one large frame) is read from the uncompressed tar kept by its pass. A
 * layer listed from its table of contents is read chunk by chunk, each
 * chunk checked against the digest the TOC states.
 */
export class LayerContent {
  private readonly accessIndexes = new LRUCache<string, RandomAccessIndex>({
    maxSize: MAX_ACCESS_INDEX_BYTES,
    sizeCalculation: (index) => Math.max(1, approximateSize(index)),
  });
  /** Recent small reads of compressed layers, by layer digest, offset and length. */
  private readonly recentReads = new LRUCache<string, Buffer>({
    maxSize: MAX_REMEMBERED_BYTES,
    sizeCalculation: (bytes) => Math.max(1, bytes.length),
  });
  /** Recently decoded intervals of gzip and zstd layers, which small reads are cut from. */
  private readonly decodedIntervals = new DecodedIntervals(MAX_DECODED_INTERVAL_BYTES);
  private readonly chunkTables = new LRUCache<string, ChunkTable>({
    maxSize: MAX_CHUNK_TABLE_BYTES,
    sizeCalculation: (table) => Math.max(1, table.chunks.length * 200),
  });
  private readonly ztocAccesses = new LRUCache<string, ZtocAccess>({
    maxSize: MAX_ACCESS_INDEX_BYTES,
    sizeCalculation: (access) => {
      const spans = access.spans.reduce((sum, span) => sum + span.window.length + 160, 0);
      return Math.max(1, spans + access.contentNames.size * 120);
    },
  });
  /** Layers whose zTOC a read proved wrong, with the error later reads fail with. */
  private readonly wrongZtocs = new LRUCache<string, WrongZtocError>({ max: 10_000 });
  /** Files of zTOC listings whose tar header was found where the zTOC places them. */
  private readonly checkedHeaders = new LRUCache<string, true>({ max: 100_000 });
  /** Layers whose source sent the whole blob in response to a Range request. */
  private readonly rangeIgnored = new Set<string>();

  constructor(
    private readonly layout: CacheLayout,
    private readonly blobs: BlobStore,
    /** Rebuilds the zTOC listing of a layer read with "soci" offsets after its access points left memory. */
    private readonly loadZtocListing: ZtocListingLoader = async () => undefined,
    private readonly rejectZtoc: WrongZtocRecorder = async () => undefined,
  ) {}

  /**
   * Opens `length` bytes at `offset` of the layer's uncompressed tar stream,
   * or, with `offsets` "toc", of the content space of its TOC listing.
   * `file` names the file the bytes belong to, which a read through a zTOC
   * checks against the tar header before it.
   */
  async read(
    remote: RemoteBlob,
    offset: number,
    length: number,
    offsets: ContentOffsets = "tar",
    file?: ZtocFileExtent,
  ): Promise<Readable> {
    if (length <= 0) return emptyStream();
    const digest = remote.descriptor.digest;
    if (offsets === "toc") return this.readToc(remote, offset, length);
    if (offsets === "soci") return this.readFileThroughZtoc(remote, offset, length, file);
    // A pass keeps the uncompressed tar only when its access points are too
    // far apart to be useful, so a remembered useful index saves the check.
    const remembered = this.accessIndexes.get(digest);
    if (!(remembered && isRandomAccessUseful(remembered))) {
      const tarPath = this.layout.layerTar(digest);
      if (await exists(tarPath)) {
        this.blobs.budget?.touched(tarPath);
        return createReadStream(tarPath, { start: offset, end: offset + length - 1 });
      }
    }

    const index = remembered ?? (await this.accessIndex(digest));
    // A plain layer's index has no CRC-32s to check bytes fetched by Range
    // against, so such a layer is downloaded whole and verified by digest instead.
    const checked = index.kind !== "none";
    const fetch = (start: number, end: number) => this.fetchCompressed(remote, start, end, checked);
    const streamName = `layer ${digest}`;
    const open = () => readUncompressedRange(index, fetch, offset, length, { streamName });
    if (length > MAX_REMEMBERED_READ) return open();

    const decode = (interval: AccessInterval) =>
      readWhole(readUncompressedRange(index, fetch, interval.start, interval.end - interval.start, { streamName }));
    const bytes = await this.decodedIntervals.read(digest, index, decode, offset, length);
    return bytes ? Readable.from([bytes]) : open();
  }

  /** Stores a TOC listing in the cache, in one file renamed into place, and keeps its chunk table in memory. */
  async storeTocListing(listing: TocListing): Promise<void> {
    const path = this.layout.layerToc(listing.index.digest, TOC_RECORD_VERSION);
    await writeFileAtomic(path, serializeTocListing(listing));
    this.chunkTables.set(listing.index.digest, listing.table);
    await removeEarlierVersions(TOC_RECORD_VERSION, (version) => this.layout.layerToc(listing.index.digest, version));
  }

  /** Returns the stored TOC listing of a layer, or undefined when none is stored or it is unreadable. */
  async loadTocListing(digest: string): Promise<TocListing | undefined> {
    let text: string;
    try {
      text = await readFile(this.layout.layerToc(digest, TOC_RECORD_VERSION), "utf8");
    } catch {
      return undefined;
    }
    try {
      const listing = parseTocListing(text, digest);
      if (listing) this.chunkTables.set(digest, listing.table);
      return listing;
    } catch (error) {
      log.warn("stored TOC listing is unreadable, listing the layer again", { digest, error: String(error) });
      return undefined;
    }
  }

  /** Keeps the access points of a layer listed from its zTOC in memory, for the reads that follow. */
  rememberZtocAccess(access: ZtocAccess): void {
    this.ztocAccesses.set(access.digest, access);
  }

  /**
   * Reads through the layer's zTOC, unless a read found that zTOC wrong. A
   * wrong zTOC fails every later read of the layer, because its other
   * windows and offsets cannot be trusted either.
   */
  private async readFileThroughZtoc(
    remote: RemoteBlob,
    offset: number,
    length: number,
    file: ZtocFileExtent | undefined,
  ): Promise<Readable> {
    const digest = remote.descriptor.digest;
    const rejected = this.wrongZtocs.get(digest);
    if (rejected) throw rejected;
    const remember = (error: unknown) => {
      if (!(error instanceof WrongZtocError)) return;
      if (this.wrongZtocs.has(digest)) return;
      log.warn("layer zTOC found wrong, no more reads of the layer are served through it", { digest, error: error.message });
      const problem = "an earlier read found the zTOC of this layer wrong. Serve with --ignore-tocs to read the layer from its tar";
      this.wrongZtocs.set(digest, new WrongZtocError(`layer ${digest}`, problem));
      void this.rejectZtoc(digest, error.message);
    };
    try {
      if (file) await this.checkFileHeader(remote, file);
      const stream = await this.readThroughZtoc(remote, offset, length);
      stream.once("error", remember);
      return stream;
    } catch (error) {
      remember(error);
      throw error;
    }
  }

  /** Checks once per file that a tar header for it precedes its content, where the zTOC places it. */
  private async checkFileHeader(remote: RemoteBlob, file: ZtocFileExtent): Promise<void> {
    const digest = remote.descriptor.digest;
    const key = `${digest} ${file.dataOffset} ${file.size}`;
    if (this.checkedHeaders.has(key)) return;
    const start = Math.max(0, file.dataOffset - BLOCK_SIZE);
    const header = await readWhole(await this.readThroughZtoc(remote, start, file.dataOffset - start));
    const name = this.ztocAccesses.get(digest)?.contentNames?.get(file.dataOffset);
    checkZtocFileHeader(header, { ...file, name }, digest);
    this.checkedHeaders.set(key, true);
  }

  private async readThroughZtoc(remote: RemoteBlob, offset: number, length: number): Promise<Readable> {
    const digest = remote.descriptor.digest;
    const access = this.ztocAccesses.get(digest) ?? (await this.loadZtocListing(digest))?.access;
    if (!access) throw new RegdavError("INTERNAL", `layer ${digest}: the zTOC it was listed from is missing from the cache`);
    this.ztocAccesses.set(digest, access);

    const fetch = (start: number, end: number) => this.fetchCompressed(remote, start, end, true);
    const streamName = `layer ${digest}`;
    const open = () => readZtocRange(access, fetch, offset, length, streamName);
    if (length > MAX_REMEMBERED_READ) return open();

    const points: AccessPoints = { kind: "points", points: access.spans, uncompressedSize: access.uncompressedSize };
    const decode = (interval: AccessInterval) =>
      readWhole(readZtocRange(access, fetch, interval.start, interval.end - interval.start, streamName));
    // The zTOC's spans start elsewhere than the pass's checkpoints, so its intervals get their own key.
    const bytes = await this.decodedIntervals.read(`${digest} ztoc`, points, decode, offset, length);
    return bytes ? Readable.from([bytes]) : open();
  }

  private async readToc(remote: RemoteBlob, offset: number, length: number): Promise<Readable> {
    const digest = remote.descriptor.digest;
    const table = this.chunkTables.get(digest) ?? (await this.loadTocListing(digest))?.table;
    if (!table) throw new RegdavError("INTERNAL", `layer ${digest}: the chunk table of its TOC listing is missing from the cache`);
    const fetch = (start: number, end: number) => this.fetchCompressed(remote, start, end, true);
    const open = () => readTocContent(table, fetch, offset, length);
    if (length > MAX_REMEMBERED_READ) return open();

    const key = `${digest} toc ${offset} ${length}`;
    let bytes = this.recentReads.get(key);
    if (!bytes) {
      bytes = await readWhole(open());
      this.recentReads.set(key, bytes);
    }
    return Readable.from([bytes]);
  }

  /** Tells whether reads of the layer can be served: a tar copy or a random-access index is on disk. */
  async canRead(digest: string): Promise<boolean> {
    const accessPath = this.layout.layerAccessIndex(digest, RANDOM_ACCESS_FORMAT_VERSION);
    return (await exists(this.layout.layerTar(digest))) || (await exists(accessPath));
  }

  private async accessIndex(digest: string): Promise<RandomAccessIndex> {
    const remembered = this.accessIndexes.get(digest);
    if (remembered) return remembered;
    const path = this.layout.layerAccessIndex(digest, RANDOM_ACCESS_FORMAT_VERSION);
    const bytes = await readFile(path);
    let index: RandomAccessIndex;
    try {
      index = parseRandomAccessIndex(bytes);
    } catch (error) {
      if (!(error instanceof RegdavError)) throw error;
      const problem = `layer ${digest}: the stored ${path} is unusable (${error.message})`;
      const advice = "delete that file, and regdav indexes the layer again after a restart";
      throw new RegdavError(error.code, `${problem}: ${advice}`, { cause: error });
    }
    this.accessIndexes.set(digest, index);
    return index;
  }

  private async fetchCompressed(
    remote: RemoteBlob,
    start: number,
    end: number,
    byRange: boolean,
  ): Promise<Readable> {
    const { descriptor, repository } = remote;
    const cached = await this.blobs.cachedPath(descriptor.digest);
    if (cached) {
      this.blobs.budget?.touched(cached);
      return createReadStream(cached, { start, end });
    }

    if (byRange && remote.openRange && !this.rangeIgnored.has(descriptor.digest)) {
      try {
        return await remote.openRange(start, end);
      } catch (error) {
        if (!(error instanceof RangeIgnoredError)) throw error;
        this.rangeIgnored.add(descriptor.digest);
        log.warn("registry ignores Range requests, caching the layer whole", { digest: descriptor.digest, repository });
      }
    }
    const path = await this.blobs.ensure(descriptor, remote.openWhole, repository);
    return createReadStream(path, { start, end });
  }
}

/** Reads a stream to its end; a stream that fails, as on a CRC mismatch, rejects instead. */
async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function approximateSize(index: RandomAccessIndex): number {
  if (index.kind === "gzip") return index.checkpoints.reduce((sum, point) => sum + point.window.length + 64, 0);
  if (index.kind === "zstd") return index.frames.length * 40;
  return 64;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function emptyStream(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}
