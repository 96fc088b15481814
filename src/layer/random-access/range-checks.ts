import type { ByteReader } from "./byte-reader.js";
import { corruptDataError, rangeOutsideError } from "./random-access-errors.js";

/** Throws RANGE_NOT_SATISFIABLE unless [offset, offset + length) lies inside `size` bytes. */
export function checkReadRange(streamName: string, offset: number, length: number, size: number) {
  const valid =
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size;
  if (!valid) throw rangeOutsideError(streamName, offset, length, size);
}

/** Throws when a fetch returned more bytes than requested, as a server that ignores Range does. */
export async function expectFetchEnd(
  reader: ByteReader,
  start: number,
  endInclusive: number,
  streamName: string,
): Promise<void> {
  if (reader.position === endInclusive + 1 && (await reader.atEnd())) return;
  const problem = `the fetch of compressed bytes ${start}-${endInclusive} returned more bytes`;
  throw corruptDataError(streamName, problem, { compressedOffset: reader.position });
}

/** Returns a function that yields the iterable's values one by one, then undefined. */
export function iteratorOf<T>(iterable: AsyncIterable<T>): () => Promise<T | undefined> {
  const iterator = iterable[Symbol.asyncIterator]();
  return async () => {
    const next = await iterator.next();
    return next.done ? undefined : next.value;
  };
}
