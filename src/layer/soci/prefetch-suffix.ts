/**
 * The prefetch list that soci-snapshotter (ztoc/ztoc_marshaler.go) may append
 * to a zTOC blob: the separator below, then a JSON array of the files to
 * prefetch. The blob's digest covers it, and the FlatBuffer does not.
 */
import { ZtocError } from "./ztoc-error.js";

export const PREFETCH_SEPARATOR = Buffer.from("---SOCI-PREFETCH---");

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Finds the prefetch list after `flatBufferEnd`, the end of the last
 * FlatBuffer object read, and checks that it is a JSON array of objects (or
 * `null`, or empty, as soci accepts). Returns its entry count, 0 without a list.
 *
 * soci itself cuts the blob at the first separator anywhere, which would
 * also match one inside a checkpoint window or a file name. Searching from
 * the FlatBuffer's end avoids that.
 */
export function readPrefetchSuffix(bytes: Buffer, flatBufferEnd: number): number {
  const separator = bytes.indexOf(PREFETCH_SEPARATOR, flatBufferEnd);
  if (separator < 0) return 0;
  const start = separator + PREFETCH_SEPARATOR.length;
  if (start === bytes.length) return 0;

  let list: unknown;
  try {
    list = JSON.parse(utf8Decoder.decode(bytes.subarray(start)));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ZtocError(`the prefetch list at byte ${start} is not valid JSON: ${reason}`, { cause: error });
  }
  if (list === null) return 0;
  if (!Array.isArray(list)) {
    throw new ZtocError(`the prefetch list at byte ${start} is a JSON ${typeof list}, not an array`);
  }
  const bad = list.findIndex((item) => item !== null && (typeof item !== "object" || Array.isArray(item)));
  if (bad >= 0) {
    throw new ZtocError(`the prefetch list at byte ${start}: entry ${bad} is ${JSON.stringify(list[bad])}, not an object`);
  }
  return list.length;
}
