import { corruptDataError } from "./random-access-errors.js";

const EMPTY = Buffer.alloc(0);

/**
 * A pull reader over a stream of byte chunks. It tracks how many bytes it
 * has handed out, reads exact lengths across chunk boundaries and takes back
 * bytes that a caller read but did not use.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Buffer = EMPTY;
  private ended = false;
  /** Bytes handed out so far, less those given back with unread(). */
  position: number;

  constructor(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    private readonly streamName: string,
    startPosition = 0,
  ) {
    const isAsync = Symbol.asyncIterator in source;
    this.iterator = isAsync ? source[Symbol.asyncIterator]() : toAsync(source);
    this.position = startPosition;
  }

  /** Returns the next bytes, at most `maxLength` of them, or undefined at the end. */
  async readChunk(maxLength = Number.POSITIVE_INFINITY): Promise<Buffer | undefined> {
    if (this.pending.length === 0 && !(await this.fill())) return undefined;
    const chunk = this.pending.subarray(0, Math.min(maxLength, this.pending.length));
    this.pending = this.pending.subarray(chunk.length);
    this.position += chunk.length;
    return chunk;
  }

  /**
   * Returns the next bytes, at least `minLength` of them unless the stream
   * ends first, or undefined at the end. Smaller chunks are joined into a copy.
   */
  async readAtLeast(minLength: number): Promise<Buffer | undefined> {
    const first = await this.readChunk();
    if (!first || first.length >= minLength) return first;
    const parts = [first];
    let length = first.length;
    while (length < minLength) {
      const next = await this.readChunk();
      if (!next) break;
      parts.push(next);
      length += next.length;
    }
    return Buffer.concat(parts, length);
  }

  /** Reads exactly `length` bytes, and throws a truncation error when the stream ends first. */
  async readExact(length: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let missing = length;
    while (missing > 0) {
      const chunk = await this.readChunk(missing);
      if (!chunk) throw this.truncatedError(what);
      parts.push(chunk);
      missing -= chunk.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Gives back the last bytes read, which the next read returns again. */
  unread(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([bytes, this.pending]);
    this.position -= bytes.length;
  }

  /** Returns true when no byte is left. */
  async atEnd(): Promise<boolean> {
    return this.pending.length === 0 && !(await this.fill());
  }

  /** Stops the source early, such as when a consumer stops reading. */
  async close(): Promise<void> {
    this.ended = true;
    this.pending = EMPTY;
    await this.iterator.return?.();
  }

  /** Creates the error for a stream that ended while `what` was being read. */
  truncatedError(what: string): Error {
    const problem = `unexpected end of data while reading ${what}`;
    return corruptDataError(this.streamName, problem, { compressedOffset: this.position });
  }

  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const value = next.value;
      if (value.length === 0) continue;
      this.pending = Buffer.isBuffer(value)
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return true;
    }
    return false;
  }
}

async function* toAsync(source: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* source;
}
