import type { Duplex } from "node:stream";

import type { ByteReader } from "./byte-reader.js";

/**
 * Output chunk size of the inflaters that serve reads. zlib's default of
 * 16 KiB costs one thread-pool round trip per 16 KiB, and a read after
 * eviction decodes a whole 4 MiB interval. With 128 KiB, such a read of
 * /etc/os-release of the bench's bookworm image took 35-39 ms instead of
 * 66-100 ms.
 */
export const READ_INFLATE_CHUNK_SIZE = 128 * 1024;

/**
 * Writes chunks from `next` into a transform stream (such as a zlib
 * inflater) one at a time and yields what it outputs after each write, so
 * memory contains at most the output of one input chunk. Stops when `next` returns
 * undefined or when the transform ends by itself, as an inflater does after
 * the last deflate block. Destroys the transform when done.
 */
export async function* pumpThrough(
  next: () => Promise<Buffer | undefined>,
  transform: Duplex,
): AsyncGenerator<Buffer> {
  const output: Buffer[] = [];
  let ended = false;
  transform.on("data", (chunk: Buffer) => output.push(chunk));
  const endOrError = new Promise<void>((resolve, reject) => {
    transform.once("end", () => ((ended = true), resolve()));
    transform.once("error", reject);
  });
  endOrError.catch(() => undefined);
  try {
    for (let chunk = await next(); chunk && !ended; chunk = await next()) {
      await Promise.race([writeChunk(transform, chunk), endOrError]);
      yield* output.splice(0);
    }
    if (!ended) transform.end();
    await endOrError;
    yield* output.splice(0);
  } finally {
    transform.destroy();
  }
}

function writeChunk(stream: Duplex, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/** Yields exactly the next `length` bytes of the reader, in slices of at most `maxSlice` bytes. */
export async function* readBytes(
  reader: ByteReader,
  length: number,
  what: string,
  maxSlice = Number.POSITIVE_INFINITY,
): AsyncGenerator<Buffer> {
  let remaining = length;
  while (remaining > 0) {
    const chunk = await reader.readChunk(Math.min(remaining, maxSlice));
    if (!chunk) throw reader.truncatedError(what);
    remaining -= chunk.length;
    yield chunk;
  }
}
