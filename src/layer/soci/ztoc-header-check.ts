import { BLOCK_SIZE, parseTarHeader } from "../tar-header.js";
import { corruptDataError } from "../random-access/random-access-errors.js";

/** Largest size a ustar size field holds in octal; larger files carry their size in a PAX record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/** Type flags of tar members whose content a file's bytes can be: regular and contiguous files. */
const CONTENT_TYPEFLAGS = new Set(["0", "7"]);

/** A file of a zTOC listing: where the zTOC says its content starts in the tar, and its size. */
export interface ZtocFileExtent {
  dataOffset: number;
  size: number;
}

/**
 * Checks the tar header that must sit right before a file's content: a
 * valid checksum, a regular file type, and the file's size. The zTOC's
 * span digests only cover compressed bytes, so this is what catches a zTOC
 * whose offsets do not match the layer's tar. Throws INVALID_LAYER naming
 * the offset otherwise. `header` is the 512 bytes before `file.dataOffset`
 * (fewer when the file starts before offset 512, which no tar allows).
 */
export function checkZtocFileHeader(header: Buffer, file: ZtocFileExtent, digest: string): void {
  const headerOffset = file.dataOffset - BLOCK_SIZE;
  const fail = (problem: string, cause?: unknown) => {
    const placed = `the zTOC places a file of ${file.size} bytes at tar offset ${file.dataOffset}`;
    return corruptDataError(`layer ${digest}`, `${placed}, but ${problem}`, { uncompressedOffset: headerOffset }, cause);
  };
  if (header.length !== BLOCK_SIZE) throw fail(`only ${header.length} bytes precede it`);

  let parsed;
  try {
    parsed = parseTarHeader(header, headerOffset, digest);
  } catch (error) {
    throw fail("the block before it is not a valid tar header", error);
  }
  if (!CONTENT_TYPEFLAGS.has(parsed.typeflag)) throw fail(`the tar header before it has type flag ${JSON.stringify(parsed.typeflag)}`);
  if (parsed.size !== file.size && file.size <= MAX_OCTAL_SIZE) {
    throw fail(`the tar header before it gives size ${parsed.size}`);
  }
}
