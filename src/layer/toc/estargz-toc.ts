import { computeDigest } from "../../reference/digest.js";
import { BLOCK_SIZE, decodeTarText, parseNumericField } from "../tar-header.js";
import { fetchBytes, gunzipPrefix, type RangeFetcher } from "./compressed-bytes.js";
import { ESTARGZ_FOOTER_SIZE, parseEstargzFooter } from "./estargz-footer.js";
import { parseTocDocument, type TocEntry } from "./toc-entries.js";
import { TocUnusableError } from "./toc-error.js";
import { MAX_TOC_BYTES } from "./zstd-chunked-toc.js";

/** The name of the tar member that contains the eStargz TOC. */
export const ESTARGZ_TOC_NAME = "stargz.index.json";

/**
 * Fetches an eStargz TOC: the footer at the end of the blob gives the
 * offset of the gzip member that contains a tar of one entry,
 * `stargz.index.json`. Its bytes are checked against the layer's
 * `containerd.io/snapshot/stargz/toc.digest` annotation before parsing.
 *
 * Throws TocUnusableError on any problem with the footer or the TOC.
 */
export async function readEstargzToc(
  tocDigest: string,
  fetch: RangeFetcher,
  blobSize: number | undefined,
): Promise<{ entries: TocEntry[]; dataEnd: number }> {
  if (blobSize === undefined) throw new TocUnusableError("the manifest states no blob size, so the eStargz footer cannot be found");
  const tail = await fetchBytes(fetch, Math.max(0, blobSize - ESTARGZ_FOOTER_SIZE), blobSize);
  const { tocOffset, footerSize } = parseEstargzFooter(tail);
  const tocEnd = blobSize - footerSize;
  if (tocOffset >= tocEnd) {
    throw new TocUnusableError(`the eStargz footer puts the TOC at ${tocOffset}, not before the footer at ${tocEnd}`);
  }
  if (tocEnd - tocOffset > MAX_TOC_BYTES) {
    throw new TocUnusableError(`the eStargz TOC is ${tocEnd - tocOffset} bytes, more than the limit of ${MAX_TOC_BYTES}`);
  }

  const compressed = await fetchBytes(fetch, tocOffset, tocEnd);
  let tar: Buffer;
  try {
    tar = await gunzipPrefix(compressed, MAX_TOC_BYTES);
  } catch (error) {
    throw new TocUnusableError(`the eStargz TOC at ${tocOffset} does not decompress: ${(error as Error).message}`, { cause: error });
  }
  const member = tocMember(tar);
  const actual = computeDigest(member.json);
  if (actual !== tocDigest) {
    throw new TocUnusableError(`the eStargz TOC has digest ${actual}, but the manifest annotation states ${tocDigest}`);
  }
  const entries = parseTocDocument(member.json, "the eStargz TOC");
  // The TOC is a tar entry of the layer too, so a full pass and an unpacked
  // image show it. It is listed last, as it comes last in the tar, and read
  // from its own gzip member past the tar header, checked by its digest.
  entries.push({
    type: "reg",
    name: ESTARGZ_TOC_NAME,
    linkName: "",
    mode: member.mode,
    size: member.json.length,
    modified: member.modified,
    offset: tocOffset,
    chunkOffset: 0,
    digest: tocDigest,
    innerOffset: BLOCK_SIZE,
  });
  return { entries, dataEnd: tocEnd };
}

/** The content of the TOC's tar member, with the mode and modification time of its header. */
interface TocMember {
  json: Buffer;
  mode: number;
  /** Milliseconds since the epoch. */
  modified: number;
}

/** Returns the first tar member, which must be `stargz.index.json`. */
function tocMember(tar: Buffer): TocMember {
  if (tar.length < BLOCK_SIZE) throw new TocUnusableError(`the eStargz TOC tar is ${tar.length} bytes, shorter than one header`);
  const header = tar.subarray(0, BLOCK_SIZE);
  const name = decodeTarText(header.subarray(0, 100).subarray(0, nulIndex(header.subarray(0, 100))));
  if (name !== ESTARGZ_TOC_NAME) {
    throw new TocUnusableError(`the eStargz TOC tar contains ${JSON.stringify(name)}, expected ${ESTARGZ_TOC_NAME}`);
  }
  const size = parseNumericField(header.subarray(124, 136));
  if (size === undefined || BLOCK_SIZE + size > tar.length) {
    throw new TocUnusableError(`the eStargz TOC tar member has an invalid size field`);
  }
  const mode = parseNumericField(header.subarray(100, 108)) ?? 0o644;
  const seconds = parseNumericField(header.subarray(136, 148)) ?? 0;
  return { json: tar.subarray(BLOCK_SIZE, BLOCK_SIZE + size), mode, modified: seconds * 1000 };
}

function nulIndex(field: Buffer): number {
  const position = field.indexOf(0);
  return position < 0 ? field.length : position;
}
