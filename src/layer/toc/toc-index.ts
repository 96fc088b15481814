import { LayerIndexBuilder } from "../layer-index-builder.js";
import { LAYER_INDEX_VERSION, type TocKind, type TocLayerIndex } from "../layer-index.js";
import type { LayerLimits } from "../layer-limits.js";
import type { TarMember } from "../tar-scanner.js";
import type { ChunkTable, TocChunk } from "./chunk-table.js";
import type { TocEntry } from "./toc-entries.js";
import { TYPEFLAG_OF_TOC_TYPE } from "./entry-typeflags.js";
import { TocUnusableError } from "./toc-error.js";

/**
 * Largest chunk read through a TOC. The chunk reader keeps one whole chunk
 * in memory to check its digest before passing any byte on. Writers cut
 * chunks of about 4 MiB, but a file they did not split is one chunk of the
 * file's size, so a larger file makes the TOC unusable and the layer is
 * indexed by the ordinary pass instead.
 */
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;

/**
 * Largest compressed range, and largest decompressed prefix (`innerOffset`
 * plus the chunk's size), that reading one chunk keeps in memory. The
 * chunk reader fetches a chunk's whole compressed range, so without this
 * bound a TOC could make one read buffer the whole blob, or inflate a gzip
 * bomb to reach a far `innerOffset`. Twice MAX_CHUNK_SIZE leaves room for
 * incompressible data, whose zstd or gzip output is slightly larger than
 * its input, and for the tar headers that follow a chunk in eStargz ranges.
 */
export const MAX_CHUNK_BUFFER = 2 * MAX_CHUNK_SIZE;

/** A TOC layer's listing and the chunks its file bytes are read from. */
export interface TocListing {
  index: TocLayerIndex;
  table: ChunkTable;
}

export interface TocListingOptions {
  toc: TocKind;
  /** Digest of the layer blob. */
  digest: string;
  compression: "gzip" | "zstd";
  compressedSize: number;
  /** Offset in the blob where file data ends and the TOC begins. */
  dataEnd: number;
  limits: LayerLimits;
}

/** Maps TOC entry types to the tar type flags that LayerIndexBuilder reads. */
const TYPEFLAGS: Record<Exclude<TocEntry["type"], "chunk">, string> = TYPEFLAG_OF_TOC_TYPE;

interface FileGroup {
  entry: TocEntry;
  chunks: TocEntry[];
}

/**
 * Turns TOC entries into a layer index and a chunk table. The entries go
 * through LayerIndexBuilder as tar members would, so whiteouts, opaque
 * folders, hardlinks and path normalization follow the rules of the tar
 * pass. Each regular file's `dataOffset` is its start in the virtual content
 * space: the contents of the regular files laid end to end in TOC order.
 *
 * Throws TocUnusableError for entries that cannot be read safely, such as a
 * non-empty file without a digest or chunks that do not cover the file.
 */
export function buildTocListing(entries: readonly TocEntry[], options: TocListingOptions): TocListing {
  if (entries.length > options.limits.maxEntries) {
    throw new TocUnusableError(`the TOC has ${entries.length} entries, more than the limit of ${options.limits.maxEntries}`);
  }
  const groups = groupChunks(entries, options.limits);
  const ends = dataOffsets(groups, options.dataEnd);

  const builder = new LayerIndexBuilder();
  const chunks: TocChunk[] = [];
  let virtualOffset = 0;
  for (const group of groups) {
    const { entry } = group;
    const typeflag = TYPEFLAGS[entry.type as keyof typeof TYPEFLAGS];
    const member: TarMember = {
      name: entry.name,
      typeflag,
      size: entry.type === "reg" ? entry.size : 0,
      mode: entry.mode,
      modified: entry.modified,
      linkName: entry.linkName,
      headerOffset: 0,
      dataOffset: virtualOffset,
    };
    builder.add(member);
    if (entry.type !== "reg" || entry.size === 0) continue;
    chunks.push(...fileChunks(group, virtualOffset, ends, options));
    virtualOffset += entry.size;
    if (virtualOffset > options.limits.maxUncompressedSize) {
      throw new TocUnusableError(
        `the files of the TOC hold at least ${virtualOffset} bytes, more than the limit of ${options.limits.maxUncompressedSize}`,
      );
    }
  }

  const index: TocLayerIndex = {
    version: LAYER_INDEX_VERSION,
    digest: options.digest,
    offsets: "toc",
    toc: options.toc,
    compression: options.compression,
    compressedSize: options.compressedSize,
    contentSize: virtualOffset,
    ...builder.build(),
  };
  return { index, table: { toc: options.toc, digest: options.digest, chunks } };
}

/** Attaches every `chunk` entry to the regular file entry before it. */
function groupChunks(entries: readonly TocEntry[], limits: LayerLimits): FileGroup[] {
  const groups: FileGroup[] = [];
  for (const entry of entries) {
    if (Buffer.byteLength(entry.name) > limits.maxPathBytes || Buffer.byteLength(entry.linkName) > limits.maxPathBytes) {
      throw new TocUnusableError(`the TOC entry ${JSON.stringify(entry.name.slice(0, 100))} has a name longer than ${limits.maxPathBytes} bytes`);
    }
    if (entry.type !== "chunk") {
      groups.push({ entry, chunks: [entry] });
      continue;
    }
    const file = groups.at(-1);
    if (!file || file.entry.type !== "reg" || file.entry.name !== entry.name) {
      throw new TocUnusableError(`the TOC chunk entry for ${JSON.stringify(entry.name)} does not follow a regular file entry of that name`);
    }
    file.chunks.push(entry);
  }
  return groups;
}

/** Returns every compressed offset where chunk data starts, and `dataEnd`, sorted and without repeats. */
function dataOffsets(groups: readonly FileGroup[], dataEnd: number): number[] {
  const offsets = new Set<number>([dataEnd]);
  for (const group of groups) {
    for (const chunk of group.chunks) if (chunk.offset !== undefined && chunk.offset > 0) offsets.add(chunk.offset);
  }
  return [...offsets].sort((a, b) => a - b);
}

/** Returns the smallest offset in `sorted` that is greater than `offset`. */
function nextOffset(sorted: readonly number[], offset: number): number | undefined {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= offset) low = middle + 1;
    else high = middle;
  }
  return sorted[low];
}

/** Builds the chunks of one non-empty regular file and checks that they cover it exactly. */
function fileChunks(group: FileGroup, fileStart: number, ends: readonly number[], options: TocListingOptions): TocChunk[] {
  const { entry } = group;
  const path = entry.name;
  const single = group.chunks.length === 1;
  const result: TocChunk[] = [];
  let covered = 0;
  group.chunks.forEach((part, position) => {
    const last = position === group.chunks.length - 1;
    const size = part.chunkSize ?? (last ? entry.size - part.chunkOffset : 0);
    if (part.chunkOffset !== covered || size <= 0) {
      throw new TocUnusableError(`the chunks of ${path} do not cover it: a chunk at ${part.chunkOffset} with size ${size} follows ${covered} bytes`);
    }
    if (size > MAX_CHUNK_SIZE) {
      throw new TocUnusableError(`${path} has a chunk of ${size} bytes, more than the ${MAX_CHUNK_SIZE} bytes read at once`);
    }
    covered += size;
    result.push(makeChunk(part, size, fileStart, single ? entry.digest : undefined, last ? entry.endOffset : undefined, ends, options, path));
  });
  if (covered !== entry.size) {
    throw new TocUnusableError(`the chunks of ${path} cover ${covered} bytes, but the file has ${entry.size}`);
  }
  return result;
}

function makeChunk(
  part: TocEntry,
  size: number,
  fileStart: number,
  fileDigest: string | undefined,
  endOffset: number | undefined,
  ends: readonly number[],
  options: TocListingOptions,
  path: string,
): TocChunk {
  const virtualStart = fileStart + part.chunkOffset;
  const place = `${path} at ${part.chunkOffset}`;
  const digest = part.chunkDigest ?? fileDigest;
  if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new TocUnusableError(`the chunk of ${place} has digest ${JSON.stringify(digest)}, expected sha256:<64 hex digits>`);
  }
  if (part.chunkType === "zeros") {
    // The chunk reader checks the digest, when there is one, against the zeros it serves.
    // NOTE: a hole is never compared with the blob, since nothing is fetched for it, so a
    // TOC that marks real data as zeros, with the digest of zeros or none, is served as zeros.
    const hole: TocChunk = { virtualStart, size, compressedStart: 0, compressedEnd: 0, innerOffset: 0, zeros: true, path, chunkOffset: part.chunkOffset };
    if (digest !== undefined) hole.digest = digest;
    return hole;
  }
  if (part.chunkType !== undefined) {
    throw new TocUnusableError(`the chunk of ${place} has unknown chunkType ${JSON.stringify(part.chunkType)}`);
  }
  if (digest === undefined) throw new TocUnusableError(`the chunk of ${place} has no digest to verify it by`);
  const start = part.offset;
  if (start === undefined || start === 0) throw new TocUnusableError(`the chunk of ${place} has no compressed offset`);
  const end = endOffset ?? nextOffset(ends, start);
  if (end === undefined || end <= start || end > options.dataEnd) {
    throw new TocUnusableError(`the chunk of ${place} has compressed bytes ${start}-${end ?? "?"} outside the data before the TOC (0-${options.dataEnd})`);
  }
  if (end - start > MAX_CHUNK_BUFFER) {
    throw new TocUnusableError(`the chunk of ${place} spans ${end - start} compressed bytes, more than the ${MAX_CHUNK_BUFFER} bytes read at once`);
  }
  if (part.innerOffset + size > MAX_CHUNK_BUFFER) {
    throw new TocUnusableError(
      `the chunk of ${place} starts ${part.innerOffset} bytes into its compressed data, so reading it decompresses more than ${MAX_CHUNK_BUFFER} bytes`,
    );
  }
  return { virtualStart, size, compressedStart: start, compressedEnd: end, innerOffset: part.innerOffset, digest, path, chunkOffset: part.chunkOffset };
}
