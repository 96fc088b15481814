import type { ServerResponse } from "node:http";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Streams exactly `length` bytes from `source` to the response, then ends
 * it. If the source errors, ends early or runs long, the pipeline destroys
 * the response and so its socket. The client then sees a failed transfer
 * instead of a short file that looks complete. Rejects with the cause.
 */
export async function streamExactly(
  source: Readable,
  response: ServerResponse,
  length: number,
): Promise<void> {
  await pipeline(source, new LengthCheck(length), response);
}

/** A pass-through that errors when more or fewer than `expected` bytes flow through it. */
class LengthCheck extends Transform {
  private received = 0;

  constructor(private readonly expected: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.expected) {
      callback(new Error(`file stream sent more than the ${this.expected} bytes announced`));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.received === this.expected) {
      callback();
      return;
    }
    callback(new Error(`file stream ended after ${this.received} of ${this.expected} bytes`));
  }
}
