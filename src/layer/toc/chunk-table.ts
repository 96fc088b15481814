import type { TocKind } from "../layer-index.js";

/**
 * One chunk of a file in a TOC layer: `size` bytes at `virtualStart` of the
 * virtual content space, stored compressed at `compressedStart` to
 * `compressedEnd` (exclusive) of the blob. Decompressing that range gives
 * `innerOffset` bytes to skip, then the chunk's bytes, then possibly more
 * that belong to later tar records.
 */
export interface TocChunk {
  virtualStart: number;
  size: number;
  compressedStart: number;
  compressedEnd: number;
  innerOffset: number;
  /** `sha256:<hex>` of the chunk's bytes; unset for a hole, whose bytes are zeros. */
  digest?: string;
  /** A hole: the TOC states the bytes are zeros, and nothing is fetched. */
  zeros?: boolean;
  /** The file the chunk belongs to and the chunk's offset in it, for error messages. */
  path: string;
  chunkOffset: number;
}

/** The chunks of a TOC layer, sorted by `virtualStart`, covering the content space without gaps. */
export interface ChunkTable {
  toc: TocKind;
  /** Digest of the layer blob, named in errors. */
  digest: string;
  chunks: TocChunk[];
}

/** Returns the position of the chunk that contains `virtualOffset`, or -1 when none does. */
export function findChunk(table: ChunkTable, virtualOffset: number): number {
  const { chunks } = table;
  let low = 0;
  let high = chunks.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const chunk = chunks[middle]!;
    if (virtualOffset < chunk.virtualStart) high = middle - 1;
    else if (virtualOffset >= chunk.virtualStart + chunk.size) low = middle + 1;
    else return middle;
  }
  return -1;
}
