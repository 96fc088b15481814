import { RegdavError, type ErrorCode } from "../../errors.js";

/** Position in the compressed and uncompressed streams at which a problem was found, when known. */
export interface StreamPosition {
  compressedOffset?: number;
  uncompressedOffset?: number;
}

/**
 * An error of the random-access layer readers. The message names the stream
 * (such as `layer sha256:...`) and the offsets, which are also fields.
 */
export class RandomAccessError extends RegdavError {
  readonly compressedOffset: number | undefined;
  readonly uncompressedOffset: number | undefined;

  constructor(code: ErrorCode, message: string, position: StreamPosition = {}, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = "RandomAccessError";
    this.compressedOffset = position.compressedOffset;
    this.uncompressedOffset = position.uncompressedOffset;
  }
}

/** Creates the INVALID_LAYER error for compressed data that is corrupt or truncated. */
export function corruptDataError(
  streamName: string,
  problem: string,
  position: StreamPosition,
  cause?: unknown,
): RandomAccessError {
  return new RandomAccessError("INVALID_LAYER", corruptDataMessage(streamName, problem, position), position, cause);
}

/** Returns the message of an INVALID_LAYER error: the stream, the problem and the offsets. */
export function corruptDataMessage(streamName: string, problem: string, position: StreamPosition): string {
  return `${streamName}: ${problem}${describePosition(position)}`;
}

/** Node's zlib errors carry a `code` such as Z_DATA_ERROR. */
export function isZlibError(error: unknown): error is Error {
  if (!(error instanceof Error) || !("code" in error)) return false;
  return typeof error.code === "string" && error.code.startsWith("Z_");
}

/** Creates the RANGE_NOT_SATISFIABLE error for a read outside the uncompressed stream. */
export function rangeOutsideError(
  streamName: string,
  offset: number,
  length: number,
  size: number,
): RandomAccessError {
  const range = `offset ${offset} length ${length}`;
  const message = `${streamName}: invalid read at ${range}: the uncompressed size is ${size} bytes`;
  return new RandomAccessError("RANGE_NOT_SATISFIABLE", message, { uncompressedOffset: offset });
}

/** Creates the INVALID_LAYER error for a stored index that cannot be parsed and must be rebuilt. */
export function invalidIndexError(problem: string): RandomAccessError {
  return new RandomAccessError("INVALID_LAYER", `invalid random-access index: ${problem}`);
}

function describePosition(position: StreamPosition): string {
  const parts: string[] = [];
  if (position.compressedOffset !== undefined) {
    parts.push(`compressed offset ${position.compressedOffset}`);
  }
  if (position.uncompressedOffset !== undefined) {
    parts.push(`uncompressed offset ${position.uncompressedOffset}`);
  }
  return parts.length > 0 ? ` at ${parts.join(", ")}` : "";
}
