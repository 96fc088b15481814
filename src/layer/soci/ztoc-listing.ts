import { LayerIndexBuilder } from "../layer-index-builder.js";
import { LAYER_INDEX_VERSION, type SociLayerIndex } from "../layer-index.js";
import type { LayerLimits } from "../layer-limits.js";
import type { TarMember } from "../tar-scanner.js";
import { TYPEFLAG_OF_TOC_TYPE } from "../toc/entry-typeflags.js";
import { TocUnusableError } from "../toc/toc-error.js";
import type { Ztoc, ZtocFile } from "./ztoc.js";
import { spanBytes, type ZtocAccess, type ZtocSpanStart } from "./ztoc-access.js";

/**
 * Largest compressed span read through a zTOC. A span's bytes are kept in
 * memory until they match the span's digest. soci writes spans of about
 * 4 MiB of uncompressed data, so a zTOC with a larger span is rejected and
 * the layer is indexed by the ordinary pass instead.
 */
export const MAX_SPAN_COMPRESSED_BYTES = 64 * 1024 * 1024;

/** Largest uncompressed stretch between two checkpoints, which one small read may inflate. */
export const MAX_SPAN_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;

/** A gzip layer's listing from its zTOC, with what reading its files needs. */
export interface ZtocListing {
  index: SociLayerIndex;
  access: ZtocAccess;
}

export interface ZtocListingOptions {
  /** Digest of the layer blob. */
  digest: string;
  /** Digest of the zTOC blob. */
  ztocDigest: string;
  /** The layer's size from the manifest, when known. */
  compressedSize: number | undefined;
  limits: LayerLimits;
}

/** Maps zTOC file types to the tar type flags that LayerIndexBuilder reads. */
const TYPEFLAGS: Record<ZtocFile["type"], string> = TYPEFLAG_OF_TOC_TYPE;

/**
 * Turns a parsed zTOC into a layer index and the checkpoints its files are
 * read through. The files go through LayerIndexBuilder as tar members
 * would, so whiteouts, opaque folders, hardlinks and path normalization
 * follow the rules of the tar pass. Throws TocUnusableError when the zTOC
 * does not fit the layer or the limits, so the caller runs the pass.
 */
export function buildZtocListing(ztoc: Ztoc, options: ZtocListingOptions): ZtocListing {
  checkArchive(ztoc, options);
  const contentNames = new Map<number, string>();
  for (const file of ztoc.files) if (file.type === "reg") contentNames.set(file.contentOffset, file.name);
  const access: ZtocAccess = {
    digest: options.digest,
    compressedSize: ztoc.compressedSize,
    uncompressedSize: ztoc.uncompressedSize,
    spans: spanStarts(ztoc),
    contentNames,
  };
  checkSpans(access);

  const builder = new LayerIndexBuilder();
  for (const file of ztoc.files) builder.add(tarMemberOf(file, ztoc, options.limits));

  const index: SociLayerIndex = {
    version: LAYER_INDEX_VERSION,
    digest: options.digest,
    offsets: "soci",
    ztoc: options.ztocDigest,
    compression: "gzip",
    compressedSize: ztoc.compressedSize,
    uncompressedSize: ztoc.uncompressedSize,
    ...builder.build(),
  };
  return { index, access };
}

function checkArchive(ztoc: Ztoc, options: ZtocListingOptions): void {
  if (ztoc.compression !== "gzip") {
    throw new TocUnusableError(`the zTOC describes a ${ztoc.compression} layer, and only gzip layers are read through one`);
  }
  if (options.compressedSize !== undefined && ztoc.compressedSize !== options.compressedSize) {
    throw new TocUnusableError(
      `the zTOC describes a layer of ${ztoc.compressedSize} compressed bytes, but the manifest gives ${options.compressedSize}`,
    );
  }
  const { limits } = options;
  if (ztoc.files.length > limits.maxEntries) {
    throw new TocUnusableError(`the zTOC has ${ztoc.files.length} files, more than the limit of ${limits.maxEntries}`);
  }
  if (ztoc.uncompressedSize > limits.maxUncompressedSize) {
    throw new TocUnusableError(
      `the zTOC describes ${ztoc.uncompressedSize} uncompressed bytes, more than the limit of ${limits.maxUncompressedSize}`,
    );
  }
  if (ztoc.checkpoints.length === 0) throw new TocUnusableError("the zTOC has no checkpoints");
}

/** Converts the zTOC's checkpoints to span starts, with the bit where each span's first deflate block begins. */
function spanStarts(ztoc: Ztoc): ZtocSpanStart[] {
  return ztoc.checkpoints.map((checkpoint, i) => {
    // A copy, so that the zTOC's bytes, which the parsed windows are views of, can be freed.
    const window = Buffer.from(checkpoint.window.subarray(Math.max(0, checkpoint.window.length - checkpoint.uncompressedOffset)));
    return {
      uncompressedOffset: checkpoint.uncompressedOffset,
      compressedBitOffset: checkpoint.compressedOffset * 8 - checkpoint.bits,
      compressedOffset: checkpoint.compressedOffset,
      window,
      digest: ztoc.spanDigests[i]!,
    };
  });
}

/** Checks that the spans start at the tar's start, follow each other and stay within the layer and the read limits. */
function checkSpans(access: ZtocAccess): void {
  const starts = access.spans;
  if (starts[0]!.uncompressedOffset !== 0) {
    throw new TocUnusableError(`the first zTOC checkpoint is at uncompressed offset ${starts[0]!.uncompressedOffset}, not 0`);
  }
  starts.forEach((start, i) => {
    const uncompressedEnd = starts[i + 1]?.uncompressedOffset ?? access.uncompressedSize;
    const { start: compressedStart, end: compressedEnd } = spanBytes(access, i);
    if (compressedStart < 0 || compressedEnd <= compressedStart || compressedEnd > access.compressedSize) {
      throw new TocUnusableError(
        `zTOC span ${i} covers compressed bytes ${compressedStart}-${compressedEnd}, outside the layer's ${access.compressedSize} bytes`,
      );
    }
    if (uncompressedEnd < start.uncompressedOffset) {
      throw new TocUnusableError(`zTOC span ${i} ends at uncompressed offset ${uncompressedEnd}, before its start ${start.uncompressedOffset}`);
    }
    if (compressedEnd - compressedStart > MAX_SPAN_COMPRESSED_BYTES) {
      throw new TocUnusableError(
        `zTOC span ${i} has ${compressedEnd - compressedStart} compressed bytes, more than the ${MAX_SPAN_COMPRESSED_BYTES} bytes checked at once`,
      );
    }
    if (uncompressedEnd - start.uncompressedOffset > MAX_SPAN_UNCOMPRESSED_BYTES) {
      throw new TocUnusableError(
        `zTOC span ${i} has ${uncompressedEnd - start.uncompressedOffset} uncompressed bytes, more than the limit of ${MAX_SPAN_UNCOMPRESSED_BYTES}`,
      );
    }
  });
}

function tarMemberOf(file: ZtocFile, ztoc: Ztoc, limits: LayerLimits): TarMember {
  const quoted = JSON.stringify(file.name.slice(0, 100));
  if (Buffer.byteLength(file.name) > limits.maxPathBytes || Buffer.byteLength(file.linkName) > limits.maxPathBytes) {
    throw new TocUnusableError(`the zTOC file ${quoted} has a name longer than ${limits.maxPathBytes} bytes`);
  }
  const size = file.type === "reg" ? file.size : 0;
  if (file.contentOffset + size > ztoc.uncompressedSize) {
    throw new TocUnusableError(
      `the zTOC file ${quoted} has content at ${file.contentOffset}-${file.contentOffset + size}, past the tar's ${ztoc.uncompressedSize} bytes`,
    );
  }
  return {
    name: file.name,
    typeflag: TYPEFLAGS[file.type],
    size,
    mode: file.mode,
    modified: file.modified,
    linkName: file.linkName,
    headerOffset: Math.max(0, file.contentOffset - 512),
    dataOffset: file.contentOffset,
  };
}
