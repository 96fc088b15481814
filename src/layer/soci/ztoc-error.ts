import { corruptDataMessage, RandomAccessError } from "../random-access/random-access-errors.js";

/**
 * A SOCI zTOC that cannot be used: truncated, not a FlatBuffer of the zTOC
 * schema, or with values that contradict each other. The message names the
 * field (such as `Ztoc.toc.metadata[3].name`) or the byte offset at fault.
 */
export class ZtocError extends Error {
  constructor(problem: string, options?: { cause?: unknown }) {
    super(`invalid zTOC: ${problem}`, options);
    this.name = "ZtocError";
  }
}

/**
 * An INVALID_LAYER error that proves the zTOC itself wrong, as opposed to
 * bytes that the registry changed, so that no more reads trust it.
 */
export class WrongZtocError extends RandomAccessError {
  constructor(streamName: string, problem: string, uncompressedOffset?: number) {
    const position = uncompressedOffset === undefined ? {} : { uncompressedOffset };
    super("INVALID_LAYER", corruptDataMessage(streamName, problem, position), position);
    this.name = "WrongZtocError";
  }
}

/** Quotes a value from the zTOC for an error message, cut to 100 characters. */
export function quote(text: string): string {
  return text.length > 100 ? `${JSON.stringify(text.slice(0, 100))}...` : JSON.stringify(text);
}
