import type { Readable } from "node:stream";

/**
 * Opens the compressed blob's bytes [start, endInclusive], such as with an
 * HTTP Range request or a file read, as a stream or any iterable of chunks.
 * It must yield exactly those bytes, because the readers treat more or
 * fewer as an error.
 */
export type FetchCompressed = (
  start: number,
  endInclusive: number,
) => Promise<Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>>;

export interface ReadRangeOptions {
  /** Names the stream in error messages, such as `layer sha256:...`. */
  streamName?: string;
}
