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

/**
 * Reads exactly `length` bytes from `source` into one buffer. Rejects with
 * the stream's own error, or with an Error when it ends early or runs long;
 * the stream is destroyed in both cases.
 */
export async function readExactly(source: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > length) throw new Error(tooLongMessage(length));
    chunks.push(chunk);
  }
  if (received < length) throw new Error(tooShortMessage(received, length));
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, length);
}

function tooLongMessage(expected: number): string {
  return `file stream sent more than the ${expected} bytes announced`;
}

function tooShortMessage(received: number, expected: number): string {
  return `file stream ended after ${received} of ${expected} bytes`;
}

/**
 * A pass-through that errors when more or fewer than `expected` bytes flow
 * through it. It holds back the last byte until the source has ended. A
 * source may fail a check after its last byte, such as a CRC-32 that covers
 * data past the range, and the client then gets a failed transfer instead
 * of a complete body with wrong bytes.
 */
class LengthCheck extends Transform {
  private received = 0;
  private lastByte: Buffer | undefined;

  constructor(private readonly expected: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.expected) {
      callback(new Error(tooLongMessage(this.expected)));
      return;
    }
    if (this.received < this.expected || chunk.length === 0) {
      callback(null, chunk);
      return;
    }
    this.lastByte = chunk.subarray(chunk.length - 1);
    const head = chunk.subarray(0, chunk.length - 1);
    callback(null, head.length > 0 ? head : undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.received === this.expected) {
      callback(null, this.lastByte);
      return;
    }
    callback(new Error(tooShortMessage(this.received, this.expected)));
  }
}
