import { createReadStream } from "node:fs";
import { access, readFile, rm } from "node:fs/promises";
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { LRUCache } from "lru-cache";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { passLayer } from "../layer/index-layer.js";
import {
  isTarLayerIndex,
  LAYER_INDEX_VERSION,
  type SociLayerIndex,
  type TarLayerSummary,
  type TocLayerIndex,
} from "../layer/layer-index.js";
import { resolveLayerLimits, type LayerLimits } from "../layer/layer-limits.js";
import { readLayerToc } from "../layer/toc/read-layer-toc.js";
import { TOC_RECORD_VERSION } from "../layer/toc/toc-record.js";
import { locateToc } from "../layer/toc/toc-annotations.js";
import { TocUnusableError } from "../layer/toc/toc-error.js";
import { listFromZtoc, MAX_ZTOC_BYTES } from "../layer/soci/list-from-ztoc.js";
import type { ZtocFileExtent } from "../layer/soci/ztoc-header-check.js";
import type { ZtocListing } from "../layer/soci/ztoc-listing.js";
import {
  isRandomAccessUseful,
  RANDOM_ACCESS_FORMAT_VERSION,
  serializeRandomAccessIndex,
  type RandomAccessIndex,
} from "../layer/random-access/index.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { AtomicFile, writeFileAtomic } from "./atomic-file.js";
import { createDigestVerifier } from "../reference/digest-verifier.js";
import { sha256Digest } from "../reference/digest.js";
import { logTransfer, type BlobOpener, type BlobStore } from "./blob-store.js";
import { removeEarlierVersions, type CacheLayout } from "./cache-layout.js";
import { InFlight } from "./in-flight.js";
import { LayerTreeStore, type StoredListing } from "./layer-tree-store.js";
import { DamagedListingError, StoredTarEntries, TarEntriesWriter, type TarListing } from "./tar-listing-file.js";
import type { LayerTree } from "../image/layer-tree.js";
import { LayerContent, type BlobRangeOpener, type ContentOffsets, type RemoteBlob } from "./layer-content.js";

/** Progress of one layer pass, reported as its compressed input is read. */
export interface LayerPassProgress {
  digest: string;
  /** Compressed bytes read so far. */
  bytes: number;
  /** The blob's size from the manifest, or undefined when the manifest has none (schema 1). */
  size: number | undefined;
  /** True on the last report of a pass, whether the pass succeeded or failed. */
  done: boolean;
}

/**
 * The source of a layer's SOCI zTOC: the image's SOCI index, which names
 * the layer. Looking it up costs requests, so it happens only when the
 * layer has no listing yet.
 */
export interface ZtocSource {
  /** Returns the zTOC's descriptor, or undefined when the image has none for this layer. */
  find(): Promise<BlobDescriptor | undefined>;
  /** Opens the zTOC blob. */
  open(ztoc: BlobDescriptor): Promise<Readable>;
}

export interface ContentReadOptions {
  /** Read by offsets in the uncompressed tar, whatever listing index() returned. */
  tarOffsets?: boolean;
  /** The file the bytes belong to, in the listing's offsets, for the checks a zTOC listing needs. */
  file?: ZtocFileExtent;
}

/** Rough bytes of memory one entry, whiteout or opaque marker of a listing takes, for the memory bound. */
const BYTES_PER_ENTRY = 256;

/**
 * Memory for listings kept after use, by BYTES_PER_ENTRY: those of about
 * 130,000 entries in all. Views read layer trees from disk, so a listing is
 * used again only to build a missing tree or for export, and a larger one
 * is read from disk each time. A tar listing keeps only its totals and
 * markers in memory; its entries are read from their file.
 */
const LISTING_MEMORY_BYTES = 32 * 1024 * 1024;

/**
 * Indexes layers and serves the bytes of the files inside them. The first
 * request for a layer runs one streaming pass: download, verify, decompress,
 * parse. It writes the raw blob, the entry index and a random-access index
 * of the compressed blob, each renamed into place only after the blob's
 * digest has been checked. Later requests read the entry index from memory
 * or disk, and file bytes by ranges of the compressed blob (LayerContent),
 * so an evicted blob costs one Range request per read, not a download.
 *
 * A layer whose annotations announce a table of contents (eStargz,
 * zstd:chunked) is listed from that TOC instead, without the pass, when the
 * blob is not cached. Such a listing's offsets point into a virtual content
 * space, not into the tar, so export requests the tar pass with tarIndex().
 */
export class LayerStore {
  private readonly passes = new InFlight<TarListing>();
  private readonly listings = new InFlight<StoredListing>();
  private readonly repairs = new InFlight<LayerTree>();
  private readonly memory: LRUCache<string, StoredListing>;
  /**
   * The offsets of the listing that index() returned for each layer, so
   * that reads of that listing's files use the same offsets even when
   * another process stores a different listing meanwhile.
   * NOTE: it gains one short entry per layer listed and is never trimmed.
   */
  private readonly listedOffsets = new Map<string, ContentOffsets>();
  private readonly content: LayerContent;
  private readonly trees: LayerTreeStore;
  /** Called as layer passes read their input. The command line draws its progress line from it. */
  onPassProgress: ((progress: LayerPassProgress) => void) | undefined;
  /** Overrides of the limits each layer pass enforces, such as `--max-layer-size`. */
  limits: Partial<LayerLimits> = {};
  /** False with `--ignore-tocs`: every layer is listed by the pass over its own tar. */
  useTocs = true;

  constructor(
    private readonly layout: CacheLayout,
    private readonly blobs: BlobStore,
    memoryBytes = LISTING_MEMORY_BYTES,
  ) {
    this.trees = new LayerTreeStore(layout);
    this.memory = new LRUCache({
      maxSize: memoryBytes,
      sizeCalculation: (index) => Math.max(1, listingItems(index) * BYTES_PER_ENTRY),
    });
    this.content = new LayerContent(
      layout,
      blobs,
      (digest) => this.loadZtocListing(digest),
      (digest, reason) => this.rejectZtoc(digest, reason),
    );
  }

  /**
   * Returns the layer's listing: from its table of contents when it has one
   * or from the SOCI zTOC that `ztoc` finds, when either can be used, else
   * from the indexing pass, which runs when no cached index exists.
   * `openRange` reads parts of the blob for the TOC, and `repository` is
   * named in errors.
   */
  async index(
    descriptor: BlobDescriptor,
    open: BlobOpener,
    repository: string,
    openRange?: BlobRangeOpener,
    ztoc?: ZtocSource,
  ): Promise<StoredListing> {
    const { digest } = descriptor;
    const remembered = this.memory.get(digest);
    if (remembered && (await listingFitsImage(remembered, ztoc))) return remembered;
    const passed = this.memory.get(tarMemoryKey(digest));
    if (remembered && passed && isTarLayerIndex(passed)) return passed;

    const index = await this.listings.run(digest, async () => {
      if (!this.useTocs) return this.tarIndex(descriptor, open, repository);
      return (
        (await this.content.loadTocListing(digest))?.index ??
        (await this.loadZtocListing(digest))?.index ??
        (await this.listFromToc(descriptor, repository, openRange)) ??
        (await this.listFromZtoc(descriptor, repository, openRange, ztoc)) ??
        (await this.tarIndex(descriptor, open, repository))
      );
    });
    if (!(await listingFitsImage(index, ztoc))) {
      // The zTOC was named by another image's SOCI index, which does not describe this image, so the
      // layer is listed by the pass, and every image then reads it through the pass's verified access points.
      const tarIndex = await this.tarIndex(descriptor, open, repository);
      this.listedOffsets.set(digest, "tar");
      return tarIndex;
    }
    if (!this.listedOffsets.has(digest)) this.listedOffsets.set(digest, isTarLayerIndex(index) ? "tar" : index.offsets);
    this.memory.set(digest, index);
    return index;
  }

  /** Returns the layer's listing as a tree that views read one folder at a time, from the listing index() returns. */
  async tree(
    descriptor: BlobDescriptor,
    open: BlobOpener,
    repository: string,
    openRange?: BlobRangeOpener,
    ztoc?: ZtocSource,
  ): Promise<LayerTree> {
    const { digest } = descriptor;
    // A zTOC listing depends on the image, so only tar and TOC listings are taken from the trees opened before.
    const listed = this.listedOffsets.get(digest);
    const opened = listed === "tar" || listed === "toc" ? this.trees.openedTree(digest, listed) : undefined;
    if (opened) return opened;
    if (listed === undefined) {
      const stored = await this.storedTarTree(digest);
      if (stored) {
        this.listedOffsets.set(digest, "tar");
        return stored;
      }
    }
    const listing = await this.index(descriptor, open, repository, openRange, ztoc);
    try {
      return await this.trees.tree(listing);
    } catch (error) {
      if (!(error instanceof DamagedListingError)) throw error;
      return this.repairs.run(digest, async () => {
        log.warn("stored layer listing damaged, indexing the layer again", { digest, repository, error: error.message });
        await this.forgetTarListing(digest);
        return this.trees.tree(await this.index(descriptor, open, repository, openRange, ztoc));
      });
    }
  }

  /** Deletes a layer's stored tar listing, on disk and in memory, so the next request runs the pass again. */
  private async forgetTarListing(digest: string): Promise<void> {
    this.memory.delete(digest);
    this.memory.delete(tarMemoryKey(digest));
    await rm(this.layout.layerIndex(digest, LAYER_INDEX_VERSION), { force: true });
    await rm(this.layout.layerEntries(digest, LAYER_INDEX_VERSION), { force: true });
  }

  /**
   * Returns the stored tree of the tar listing when index() would return
   * that listing from the cache: no TOC or zTOC listing is stored, and the
   * pass's index and access points are. After a restart, the first view of a
   * layer then reads its tree without parsing the whole listing.
   */
  private async storedTarTree(digest: string): Promise<LayerTree | undefined> {
    if (this.useTocs) {
      const listings = [this.layout.layerToc(digest, TOC_RECORD_VERSION), this.layout.layerZtoc(digest)];
      for (const path of listings) if (await fileExists(path)) return undefined;
    }
    if (!(await fileExists(this.layout.layerIndex(digest, LAYER_INDEX_VERSION)))) return undefined;
    if (!(await this.content.canRead(digest))) return undefined;
    return await this.trees.storedTree(digest, "tar");
  }

  /**
   * Returns the index built by the pass over the layer's tar, whose offsets
   * and diff ID are the tar's own, as export needs them. It runs the pass
   * when no cached tar index exists, even for a layer listed from its TOC.
   */
  async tarIndex(descriptor: BlobDescriptor, open: BlobOpener, repository: string): Promise<TarListing> {
    const { digest } = descriptor;
    const remembered = [this.memory.get(digest), this.memory.get(tarMemoryKey(digest))].find(
      (index): index is TarListing => index !== undefined && isTarLayerIndex(index),
    );
    if (remembered) return remembered;

    const index = await this.passes.run(digest, async () => {
      return (await this.loadIndex(digest)) ?? (await this.runPass(descriptor, open, repository));
    });
    this.memory.set(tarMemoryKey(digest), index);
    return index;
  }

  /**
   * Opens `length` bytes at `offset` of a layer's content: in the offsets of
   * the listing index() returned, or, with `tarOffsets`, of the uncompressed tar.
   */
  readContent(remote: RemoteBlob, offset: number, length: number, options: ContentReadOptions = {}): Promise<Readable> {
    const offsets = options.tarOffsets ? "tar" : (this.listedOffsets.get(remote.descriptor.digest) ?? "tar");
    return this.content.read(remote, offset, length, offsets, options.file);
  }

  /**
   * Returns the stored listing of an earlier pass over the layer, whose
   * entries are read from their file when a tree is built, or undefined
   * when none is stored or the blob's bytes can no longer be read.
   */
  private async loadIndex(digest: string): Promise<TarListing | undefined> {
    const indexPath = this.layout.layerIndex(digest, LAYER_INDEX_VERSION);
    try {
      if (!(await this.content.canRead(digest))) return undefined;
      const summary = JSON.parse(await readFile(indexPath, "utf8")) as Partial<TarLayerSummary>;
      if (!isTarSummary(summary, digest)) return undefined;
      if (!(await fileExists(this.layout.layerEntries(digest, LAYER_INDEX_VERSION)))) return undefined;
      return this.storedListing(summary);
    } catch {
      return undefined;
    }
  }

  private storedListing(summary: TarLayerSummary): TarListing {
    const entriesPath = this.layout.layerEntries(summary.digest, LAYER_INDEX_VERSION);
    return { ...summary, entries: new StoredTarEntries(entriesPath, summary.entryCount) };
  }

  /**
   * Lists a layer from its table of contents, and stores the listing with
   * its chunk table. Returns undefined, after logging why, when the layer
   * has no TOC, or its TOC cannot be used, so the caller runs the pass.
   * A cached blob, or a tar index already on disk, is read by the pass
   * instead: a listing once served with tar offsets then stays so.
   */
  private async listFromToc(
    descriptor: BlobDescriptor,
    repository: string,
    openRange: BlobRangeOpener | undefined,
  ): Promise<TocLayerIndex | undefined> {
    const { digest } = descriptor;
    if (!openRange || descriptor.annotations === undefined) return undefined;
    const started = Date.now();
    let fetched = 0;
    try {
      const location = locateToc(descriptor.annotations);
      if (!location) return undefined;
      if (await this.blobs.cachedPath(digest)) return undefined;
      if (await fileExists(this.layout.layerIndex(digest, LAYER_INDEX_VERSION))) return undefined;

      const fetch = async (start: number, end: number) => {
        fetched += end - start + 1;
        return openRange(start, end);
      };
      const request = { digest, size: descriptor.size, location, limits: resolveLayerLimits(this.limits) };
      const listing = await readLayerToc(request, fetch);
      await this.content.storeTocListing(listing);
      logTransfer("layer listed from its table of contents", digest, fetched, started);
      log.info("layer contents", { digest, toc: location.kind, entries: listing.index.entries.length, chunks: listing.table.chunks.length });
      return listing.index;
    } catch (error) {
      // Every failure falls back to the pass, which reports its own errors,
      // such as a registry that refuses the login.
      const reason = error instanceof Error ? error.message : String(error);
      log.warn("layer table of contents unusable, indexing the whole layer instead", { digest, repository, reason });
      return undefined;
    }
  }

  /**
   * Lists a gzip layer from the SOCI zTOC that its image's index artifact
   * stores, and keeps the zTOC for later reads. Returns undefined, after
   * logging why when the zTOC exists but cannot be used, so the caller runs
   * the pass. As with a TOC, a cached blob or tar index is read instead.
   */
  private async listFromZtoc(
    descriptor: BlobDescriptor,
    repository: string,
    openRange: BlobRangeOpener | undefined,
    source: ZtocSource | undefined,
  ): Promise<SociLayerIndex | undefined> {
    const { digest } = descriptor;
    if (!openRange || !source) return undefined;
    const started = Date.now();
    try {
      if (await this.blobs.cachedPath(digest)) return undefined;
      if (await fileExists(this.layout.layerIndex(digest, LAYER_INDEX_VERSION))) return undefined;
      const ztoc = await source.find();
      if (!ztoc) return undefined;
      if (await this.isRejectedZtoc(digest, ztoc.digest)) {
        log.info("layer SOCI zTOC was found wrong before, indexing the whole layer instead", { digest, ztoc: ztoc.digest });
        return undefined;
      }

      const bytes = await readZtocBlob(ztoc, source, repository);
      const listing = listFromZtoc(bytes, { digest, compressedSize: descriptor.size, limits: resolveLayerLimits(this.limits) });
      await writeFileAtomic(this.layout.layerZtoc(digest), bytes);
      this.content.rememberZtocAccess(listing.access);
      logTransfer("layer listed from its SOCI zTOC", digest, bytes.length, started);
      log.info("layer contents", { digest, ztoc: ztoc.digest, entries: listing.index.entries.length, spans: listing.access.spans.length });
      return listing.index;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log.warn("layer SOCI zTOC unusable, indexing the whole layer instead", { digest, repository, reason });
      return undefined;
    }
  }

  /** Returns the listing of a layer from the zTOC stored in the cache, or undefined when none is stored or it is unreadable. */
  private async loadZtocListing(digest: string): Promise<ZtocListing | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.layout.layerZtoc(digest));
    } catch {
      return undefined;
    }
    try {
      const listing = listFromZtoc(bytes, { digest, compressedSize: undefined, limits: resolveLayerLimits(this.limits) });
      this.content.rememberZtocAccess(listing.access);
      return listing;
    } catch (error) {
      log.warn("stored zTOC is unreadable, listing the layer again", { digest, error: String(error) });
      return undefined;
    }
  }

  /**
   * Records that the stored zTOC of a layer is wrong and deletes it, so
   * that after a restart the layer is listed by the pass, even while the
   * image's SOCI index still names that zTOC. Failures are logged, because
   * the reads of this process are rejected in memory anyway.
   */
  private async rejectZtoc(digest: string, reason: string): Promise<void> {
    const stored = this.layout.layerZtoc(digest);
    try {
      const ztoc = sha256Digest(await readFile(stored));
      await writeFileAtomic(this.layout.layerZtocRejection(digest), JSON.stringify({ ztoc, reason }));
      await rm(stored, { force: true });
    } catch (error) {
      log.warn("recording the wrong zTOC failed, a restart will use it again", { digest, error: String(error) });
    }
  }

  /** Tells whether a read proved the zTOC `ztocDigest` of a layer wrong, in this process or an earlier one. */
  private async isRejectedZtoc(digest: string, ztocDigest: string): Promise<boolean> {
    try {
      const record = JSON.parse(await readFile(this.layout.layerZtocRejection(digest), "utf8")) as { ztoc?: unknown };
      return record.ztoc === ztocDigest;
    } catch {
      return false;
    }
  }

  /**
   * Indexes the cached blob, or else downloads and indexes it in one pass.
   * The pass counts as the blob store's download of the blob, so a raw read
   * of the same blob meanwhile waits for it instead of downloading again.
   */
  private async runPass(
    descriptor: BlobDescriptor,
    open: BlobOpener,
    repository: string,
  ): Promise<TarListing> {
    const { digest } = descriptor;
    const cachedBlob = await this.blobs.cachedPath(digest);
    if (cachedBlob) return this.indexPass(descriptor, repository, cachedBlob);

    const pass = () => this.indexPass(descriptor, repository, open);
    const downloaded = await this.blobs.downloadWith(digest, pass);
    if (downloaded) return downloaded.value;

    // Another download of the blob ran meanwhile: index its copy, or, when it
    // failed, download here once more.
    const blobPath = await this.blobs.cachedPath(digest);
    return this.indexPass(descriptor, repository, blobPath ?? open);
  }

  /**
   * Runs one indexing pass over the blob, read from the cache file at
   * `input` or from the opener, which it then also stores in the cache.
   */
  private async indexPass(
    descriptor: BlobDescriptor,
    repository: string,
    input: string | BlobOpener,
  ): Promise<TarListing> {
    const started = Date.now();
    const { digest } = descriptor;
    let blobFile: AtomicFile | undefined;
    let tarFile: AtomicFile | undefined;
    let entriesFile: AtomicFile | undefined;
    let accessIndex: RandomAccessIndex | undefined;
    try {
      blobFile = typeof input === "string" ? undefined : await AtomicFile.create(this.layout.blob(digest));
      tarFile = keepsUncompressedCopy(descriptor) ? await AtomicFile.create(this.layout.layerTar(digest)) : undefined;
      entriesFile = await AtomicFile.create(this.layout.layerEntries(digest, LAYER_INDEX_VERSION));
      const entries = new TarEntriesWriter(entriesFile);
      const source = typeof input === "string" ? createReadStream(input) : await input();
      const tee = blobFile ? new CopyToFile(blobFile.stream) : new PassThrough();
      const options = {
        digest,
        limits: this.limits,
        onRandomAccessIndex: (index: RandomAccessIndex) => (accessIndex = index),
        expectedCompressedSize: descriptor.size,
        entries,
        ...(tarFile && { writeUncompressed: tarFile.stream }),
      };
      const progress = new PassProgress(descriptor, this.onPassProgress);
      const verifier = createDigestVerifier({ ...descriptor, repository });
      const [index] = await Promise.all([passLayer(tee, options), pipeline(source, progress, verifier, tee)]);
      await entries.end();

      const accessPath = this.layout.layerAccessIndex(digest, RANDOM_ACCESS_FORMAT_VERSION);
      if (accessIndex) await writeFileAtomic(accessPath, serializeRandomAccessIndex(accessIndex));
      if (tarFile && accessIndex && isRandomAccessUseful(accessIndex)) await tarFile.abort();
      else if (tarFile) await this.commitCounted(tarFile, index.uncompressedSize);
      if (blobFile) await this.commitCounted(blobFile, index.compressedSize);
      // The totals are written last: a stored summary means its entries file is whole.
      await entriesFile.commit();
      await writeFileAtomic(this.layout.layerIndex(digest, LAYER_INDEX_VERSION), JSON.stringify(index));
      await removeEarlierVersions(LAYER_INDEX_VERSION, (version) => this.layout.layerIndex(digest, version));
      logTransfer("layer indexed", descriptor.digest, index.compressedSize, started);
      log.info("layer contents", { digest: descriptor.digest, entries: index.entryCount, uncompressed: index.uncompressedSize });
      return this.storedListing(index);
    } catch (error) {
      await entriesFile?.abort();
      await tarFile?.abort();
      await blobFile?.abort();
      throw withMediaTypeHint(descriptor, wrapPassError(descriptor.digest, error));
    }
  }

  private async commitCounted(file: AtomicFile, size: number): Promise<void> {
    await file.commit();
    await this.blobs.budget?.added(file.finalPath, size);
  }
}

/** Tells whether a listing may be shown for an image: a zTOC listing only to an image whose SOCI index names that zTOC. */
async function listingFitsImage(index: StoredListing, ztoc: ZtocSource | undefined): Promise<boolean> {
  if (isTarLayerIndex(index) || index.offsets !== "soci") return true;
  const found = await ztoc?.find().catch(() => undefined);
  return found?.digest === index.ztoc;
}

/** Counts the items a listing keeps in memory: a TOC's or zTOC's entries, or a tar listing's markers. */
function listingItems(listing: StoredListing): number {
  const markers = listing.whiteouts.length + listing.opaqueDirectories.length;
  return isTarLayerIndex(listing) ? markers : listing.entries.length + markers;
}

/** Tells whether a parsed summary file is a tar pass's summary of this layer, in this version's shape. */
function isTarSummary(summary: Partial<TarLayerSummary>, digest: string): summary is TarLayerSummary {
  return (
    summary.version === LAYER_INDEX_VERSION &&
    summary.digest === digest &&
    (summary.offsets === undefined || summary.offsets === "tar") &&
    Number.isSafeInteger(summary.entryCount) &&
    Array.isArray(summary.whiteouts) &&
    Array.isArray(summary.opaqueDirectories)
  );
}

function tarMemoryKey(digest: string): string {
  return `tar ${digest}`;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function wrapPassError(digest: string, error: unknown): unknown {
  if (error instanceof RegdavError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RegdavError("INVALID_LAYER", `layer ${digest}: indexing failed: ${reason}`, { cause: error });
}

/**
 * Adds the layer's media type to an INVALID_LAYER error when that type
 * names no tar. An artifact's blob in an image manifest's layers, such as a
 * JSON document, fails as a corrupt tar, and its media type shows why.
 */
function withMediaTypeHint(descriptor: BlobDescriptor, error: unknown): unknown {
  const { mediaType } = descriptor;
  if (!(error instanceof RegdavError) || error.code !== "INVALID_LAYER") return error;
  if (mediaType === undefined || isTarMediaType(mediaType)) return error;
  const hint = `Its media type "${mediaType}" is not a tar layer, so this blob has no files to list`;
  return new RegdavError("INVALID_LAYER", `${error.message}. ${hint}.`, { cause: error });
}

/**
 * Tells whether a layer's media type may be a tar. Every image layer type
 * names a tar, compressed or not, and some tools give tar layers
 * application/octet-stream.
 */
function isTarMediaType(mediaType: string): boolean {
  return /(^|[.+/-])tar([.+;]|$)/.test(mediaType) || mediaType === "application/octet-stream";
}

/** Passes bytes on while writing a copy to a file, waiting for the file so memory stays bounded. */
class CopyToFile extends Transform {
  constructor(private readonly file: Writable) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.file.write(chunk, (error) => (error ? callback(error) : callback(null, chunk)));
  }
}

/** Passes bytes on unchanged while reporting the running count to a progress listener. */
class PassProgress extends Transform {
  private bytes = 0;

  constructor(
    private readonly descriptor: BlobDescriptor,
    private readonly listener: ((progress: LayerPassProgress) => void) | undefined,
  ) {
    super();
    this.report(false);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.bytes += chunk.length;
    this.report(false);
    callback(null, chunk);
  }

  // Runs once per pass, after the end or after a failure.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void) {
    this.report(true);
    callback(error);
  }

  private report(done: boolean) {
    const { digest, size } = this.descriptor;
    this.listener?.({ digest, bytes: this.bytes, size, done });
  }
}

/**
 * Tells whether a pass keeps a copy of the uncompressed tar. gzip layers and
 * plain tars are always read by Range, so only other layers are copied: zstd,
 * whose random access depends on its frames, or an unknown type. The copy is
 * dropped when the recorded access points turn out close enough.
 */
function keepsUncompressedCopy(descriptor: BlobDescriptor): boolean {
  const type = descriptor.mediaType ?? "";
  return !/[.+]gzip$/.test(type) && !/[.]tar$/.test(type);
}

/** Downloads a zTOC blob whole, checked against its descriptor's digest and size. */
async function readZtocBlob(ztoc: BlobDescriptor, source: ZtocSource, repository: string): Promise<Buffer> {
  if (ztoc.size === undefined || ztoc.size > MAX_ZTOC_BYTES) {
    throw new TocUnusableError(`the zTOC ${ztoc.digest} has size ${ztoc.size ?? "unknown"}, expected at most ${MAX_ZTOC_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  const collect = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      chunks.push(chunk);
      callback();
    },
  });
  const verifier = createDigestVerifier({ digest: ztoc.digest, size: ztoc.size, repository, subject: "zTOC" });
  await pipeline(await source.open(ztoc), verifier, collect);
  return Buffer.concat(chunks);
}
