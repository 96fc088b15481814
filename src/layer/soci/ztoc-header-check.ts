import { BLOCK_SIZE, parseTarHeader } from "../tar-header.js";
import { WrongZtocError } from "./ztoc-error.js";
import { normalizeEntryPath } from "../entry-path.js";

/** Maximum size a ustar size field stores in octal. Larger files carry their size in a PAX record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/** Type flags of tar members whose content a file's bytes can be: regular and contiguous files. */
const CONTENT_TYPEFLAGS = new Set(["0", "7"]);

/** The extent of a file in a zTOC listing: the tar offset of its content, as the zTOC states it, and its size. */
export interface ZtocFileExtent {
  dataOffset: number;
  size: number;
  /** The zTOC name of the file whose content starts at dataOffset, when known. */
  name?: string;
}

/** Maximum bytes of a ustar name field. A longer or non-ASCII name may be in a PAX record instead. */
const MAX_USTAR_NAME_BYTES = 100;

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
  const fail = (problem: string) => {
    const placed = `the zTOC places a file of ${file.size} bytes at tar offset ${file.dataOffset}`;
    return new WrongZtocError(`layer ${digest}`, `${placed}, but ${problem}`, headerOffset);
  };
  if (header.length !== BLOCK_SIZE) throw fail(`only ${header.length} bytes precede it`);

  let parsed;
  try {
    parsed = parseTarHeader(header, headerOffset, digest);
  } catch {
    throw fail("the block before it is not a valid tar header");
  }
  if (!CONTENT_TYPEFLAGS.has(parsed.typeflag)) throw fail(`the tar header before it has type flag ${JSON.stringify(parsed.typeflag)}`);
  if (parsed.size !== file.size && file.size <= MAX_OCTAL_SIZE) {
    throw fail(`the tar header before it gives size ${parsed.size}`);
  }
  const name = file.name;
  if (name !== undefined && normalizeEntryPath(parsed.name) !== normalizeEntryPath(name)) {
    // NOTE: a name that a PAX record carries is not compared, because the ustar field then contains a truncated name.
    const mayBeInPax = Buffer.byteLength(name) > MAX_USTAR_NAME_BYTES || !/^[\x20-\x7e]*$/.test(name);
    if (!mayBeInPax) throw fail(`the tar header before it names ${JSON.stringify(parsed.name)}, not ${JSON.stringify(name)}`);
  }
}
