import { TocUnusableError } from "./toc-error.js";

/** sha256 of the uncompressed eStargz TOC JSON (containerd stargz-snapshotter). */
export const ESTARGZ_TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest";

/**
 * zstd:chunked annotation prefixes: containers/storage writes the first one
 * now, and older releases (such as the one in Debian's skopeo 1.9.3) the second.
 */
const ZSTD_CHUNKED_PREFIXES = ["io.github.containers.zstd-chunked.", "io.containers.zstd-chunked."];

/** The location of a table of contents and the digest it must have, as the layer's annotations state. */
export type TocLocation =
  | { kind: "estargz"; tocDigest: string }
  | {
      kind: "zstd:chunked";
      /** sha256 of the compressed TOC bytes. */
      tocDigest: string;
      /** Offset of the compressed TOC in the blob. */
      offset: number;
      /** Bytes of the compressed TOC. */
      length: number;
      uncompressedLength: number;
    };

/** The zstd:chunked TOC type this reader supports: the CRFS-style JSON manifest. */
const ZSTD_CHUNKED_MANIFEST_TYPE_CRFS = 1;

/**
 * Finds a table of contents announced by a layer's annotations. Returns
 * undefined for a layer without such annotations, and throws
 * TocUnusableError for annotations that are present but invalid.
 */
export function locateToc(annotations: Record<string, string> | undefined): TocLocation | undefined {
  if (!annotations) return undefined;
  for (const prefix of ZSTD_CHUNKED_PREFIXES) {
    const position = annotations[prefix + "manifest-position"];
    const checksum = annotations[prefix + "manifest-checksum"];
    if (position === undefined && checksum === undefined) continue;
    return zstdChunkedLocation(prefix, position, checksum);
  }
  const estargzDigest = annotations[ESTARGZ_TOC_DIGEST];
  if (estargzDigest === undefined) return undefined;
  return { kind: "estargz", tocDigest: checkDigest(ESTARGZ_TOC_DIGEST, estargzDigest) };
}

function zstdChunkedLocation(
  prefix: string,
  position: string | undefined,
  checksum: string | undefined,
): TocLocation {
  const positionKey = prefix + "manifest-position";
  const checksumKey = prefix + "manifest-checksum";
  if (position === undefined) throw new TocUnusableError(`annotation ${positionKey} is missing`);
  if (checksum === undefined) throw new TocUnusableError(`annotation ${checksumKey} is missing`);

  const parts = position.split(":");
  const numbers = parts.map((part) => (/^\d{1,15}$/.test(part) ? Number(part) : NaN));
  const [offset, length, uncompressedLength, type] = numbers;
  if (parts.length !== 4 || numbers.some(Number.isNaN)) {
    throw new TocUnusableError(
      `annotation ${positionKey} is ${JSON.stringify(position)}, expected "offset:length:uncompressedLength:type"`,
    );
  }
  if (type !== ZSTD_CHUNKED_MANIFEST_TYPE_CRFS) {
    throw new TocUnusableError(`annotation ${positionKey} names TOC type ${type}, only type 1 is supported`);
  }
  return {
    kind: "zstd:chunked",
    tocDigest: checkDigest(checksumKey, checksum),
    offset: offset!,
    length: length!,
    uncompressedLength: uncompressedLength!,
  };
}

function checkDigest(key: string, value: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(value)) {
    throw new TocUnusableError(`annotation ${key} is ${JSON.stringify(value)}, expected sha256:<64 hex digits>`);
  }
  return value;
}
