/**
 * Parser for SOCI zTOCs (awslabs/soci-snapshotter): the table of contents of
 * one image layer that a SOCI index points to. A zTOC is a FlatBuffer of
 * ztoc/fbs/ztoc.fbs. It lists the layer's tar entries, each with the offset
 * of its content in the uncompressed tar. It also lists the checkpoints where
 * decompression of the layer blob can resume, one per span, with the digest
 * of each span's compressed bytes.
 *
 * The zTOC comes from a registry, so parseZtoc treats it as hostile input:
 * see flatbuffer-reader.ts for the bounds checks.
 */
import { FlatBuffer, type Table } from "./flatbuffer-reader.js";
import { readPrefetchSuffix } from "./prefetch-suffix.js";
import { parseGzipZinfo, parseTarZinfo, type ZtocCheckpoint } from "./zinfo.js";
import { quote, ZtocError } from "./ztoc-error.js";
import { readZtocFiles, type ZtocFile } from "./ztoc-file.js";

export type { ZtocCheckpoint } from "./zinfo.js";
export type { ZtocFile, ZtocFileType } from "./ztoc-file.js";
export { ZtocError } from "./ztoc-error.js";

export interface Ztoc {
  version: string;
  buildTool: string;
  /** Size of the layer blob, in bytes. */
  compressedSize: number;
  /**
   * Bytes of the tar that soci's tar reader consumed: up to the end-of-archive
   * blocks, which can be less than the whole uncompressed blob.
   */
  uncompressedSize: number;
  compression: "gzip" | "uncompressed";
  /** The tar entries, in the order of the zTOC (tar order, as soci writes it). */
  files: ZtocFile[];
  /** Uncompressed bytes that the writer aimed for between checkpoints. */
  spanSize: number;
  /** Checkpoint i starts span i. */
  checkpoints: ZtocCheckpoint[];
  /**
   * `sha256:<hex>` of each span's compressed bytes: from the checkpoint's
   * first byte (compressedOffset - 1 when bits is not 0) to the next
   * checkpoint's compressedOffset, or the blob's end for the last span.
   */
  spanDigests: string[];
}

export interface ZtocLimits {
  /** Maximum tar entries in one zTOC. */
  maxEntries: number;
}

/** The zTOC version soci-snapshotter writes (ztoc.Version09), the only one it defines. */
export const SUPPORTED_ZTOC_VERSION = "0.9";

/**
 * Bound on the bytes read from the FlatBuffer, as a multiple of its size plus
 * an allowance. soci's writer shares no object, so it reads each byte once.
 * NOTE: the factor is a guess that leaves room for writers that share
 * strings such as "reg", and no such writer was tested.
 */
const READ_BYTES_FACTOR = 4;
const READ_BYTES_ALLOWANCE = 1024 * 1024;

const SPAN_DIGEST = /^sha256:[0-9a-f]{64}$/;

// Field slots of the schema's tables, in declaration order.
const ZTOC_SLOTS = { version: 0, buildTool: 1, compressedSize: 2, uncompressedSize: 3, toc: 4, compressionInfo: 5 } as const;
const TOC_METADATA_SLOT = 0;
const INFO_SLOTS = { algorithm: 0, maxSpanId: 1, spanDigests: 2, checkpoints: 3 } as const;

/** CompressionAlgorithm enum values of the schema. An absent field means Gzip, the default. */
const ALGORITHM_GZIP = 1;
const ALGORITHM_UNCOMPRESSED = 2;

/**
 * Parses a zTOC blob: the FlatBuffer, with soci's optional prefetch list
 * after it. Throws ZtocError naming the problem and the field or byte at fault.
 */
export function parseZtoc(bytes: Buffer, limits: ZtocLimits): Ztoc {
  const maxReadBytes = READ_BYTES_FACTOR * bytes.length + READ_BYTES_ALLOWANCE;
  const buffer = new FlatBuffer(bytes, { maxReadBytes });
  const root = buffer.root("Ztoc");

  const version = root.text(ZTOC_SLOTS.version, "version");
  if (version !== SUPPORTED_ZTOC_VERSION) {
    throw new ZtocError(`unsupported zTOC version ${quote(version)}: expected ${JSON.stringify(SUPPORTED_ZTOC_VERSION)}`);
  }
  const buildTool = root.text(ZTOC_SLOTS.buildTool, "build_tool_identifier");
  const compressedSize = root.safeInt64(ZTOC_SLOTS.compressedSize, "compressed_archive_size");
  const uncompressedSize = root.safeInt64(ZTOC_SLOTS.uncompressedSize, "uncompressed_archive_size");

  const info = requireTable(root, ZTOC_SLOTS.compressionInfo, "compression_info");
  const compression = readCompression(info);
  const spanDigests = readSpanDigests(info);
  const checkpointsBlob = info.byteVector(INFO_SLOTS.checkpoints, "checkpoints");
  if (checkpointsBlob === undefined) throw new ZtocError(`${info.path}.checkpoints is missing`);
  const zinfo =
    compression === "gzip"
      ? parseGzipZinfo(checkpointsBlob, compressedSize, spanDigests.length)
      : parseTarZinfo(checkpointsBlob, compressedSize, spanDigests.length);

  const toc = requireTable(root, ZTOC_SLOTS.toc, "toc");
  const metadata = toc.tableVector(TOC_METADATA_SLOT, "metadata");
  const files = readZtocFiles(metadata, uncompressedSize, limits.maxEntries);

  readPrefetchSuffix(bytes, buffer.extent);
  return {
    version,
    buildTool,
    compressedSize,
    uncompressedSize,
    compression,
    files,
    spanSize: zinfo.spanSize,
    checkpoints: zinfo.checkpoints,
    spanDigests,
  };
}

function requireTable(parent: Table, slot: number, field: string): Table {
  const table = parent.table(slot, field);
  if (table === undefined) throw new ZtocError(`${parent.path}.${field} is missing`);
  return table;
}

function readCompression(info: Table): Ztoc["compression"] {
  const algorithm = info.int8(INFO_SLOTS.algorithm, "compression_algorithm", ALGORITHM_GZIP);
  if (algorithm === ALGORITHM_GZIP) return "gzip";
  if (algorithm === ALGORITHM_UNCOMPRESSED) return "uncompressed";
  const expected = `${ALGORITHM_GZIP} (gzip) or ${ALGORITHM_UNCOMPRESSED} (uncompressed)`;
  throw new ZtocError(`${info.path}.compression_algorithm is ${algorithm}: expected ${expected}`);
}

/** Reads the span digests, which must be as many as max_span_id + 1. */
function readSpanDigests(info: Table): string[] {
  const maxSpanId = info.int32(INFO_SLOTS.maxSpanId, "max_span_id");
  const vector = info.stringVector(INFO_SLOTS.spanDigests, "span_digests");
  const count = vector?.length ?? 0;
  if (count !== maxSpanId + 1) {
    throw new ZtocError(`${info.path}: ${count} span digests, but max_span_id ${maxSpanId} means ${maxSpanId + 1} spans`);
  }
  const digests: string[] = [];
  for (let index = 0; index < count; index++) {
    const digest = vector!.text(index);
    if (!SPAN_DIGEST.test(digest)) {
      throw new ZtocError(`${vector!.path}[${index}] is ${quote(digest)}: expected sha256: and 64 lowercase hex digits`);
    }
    digests.push(digest);
  }
  return digests;
}
