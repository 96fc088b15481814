import { RegdavError } from "../errors.js";

/**
 * Creates the INVALID_LAYER error for a problem found at a byte offset of the
 * uncompressed tar stream, so the message names both the blob and the place.
 */
export function invalidTarError(digest: string, offset: number, problem: string): RegdavError {
  const message = `layer ${digest}: invalid tar at offset ${offset}: ${problem}`;
  return new RegdavError("INVALID_LAYER", message);
}

/** Creates the INVALID_LAYER error for a problem that has no useful offset. */
export function invalidLayerError(
  digest: string,
  problem: string,
  options?: { cause?: unknown },
): RegdavError {
  return new RegdavError("INVALID_LAYER", `layer ${digest}: ${problem}`, options);
}
