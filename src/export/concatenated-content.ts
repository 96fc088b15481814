import { Readable } from "node:stream";

/**
 * A file made of parts laid end to end, such as the headers, members and
 * padding of a tar archive. A byte range opens only the parts it overlaps,
 * each from the right offset, so reading the end of a large archive reads
 * nothing of what comes before.
 */
export interface ContentPart {
  /** Bytes. */
  readonly size: number;
  /** Opens bytes `start` to `end` of the part, both inclusive. */
  open(start: number, end: number): Promise<Readable> | Readable;
}

/** Makes a part of bytes held in memory, such as a tar header or a small JSON file. */
export function bytesPart(bytes: Buffer): ContentPart {
  return {
    size: bytes.length,
    open: (start, end) => Readable.from([bytes.subarray(start, end + 1)]),
  };
}

/** Zero bytes that every zeros part sends slices of; nothing writes to it. */
const ZEROS = Buffer.alloc(64 * 1024);

/**
 * Makes a part of `size` zero bytes, such as the padding after a tar member
 * or a hole in a sparse file. It sends them in slices of one shared buffer,
 * so a large hole takes no memory of its own.
 */
export function zerosPart(size: number): ContentPart {
  return { size, open: (start, end) => Readable.from(zeroChunks(end - start + 1)) };
}

function* zeroChunks(length: number): Generator<Buffer> {
  for (let left = length; left > 0; left -= ZEROS.length) {
    yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
  }
}

export class ConcatenatedContent {
  readonly size: number;
  private readonly parts: ContentPart[];
  /** Offset of each part in the whole content, in the order of `parts`. */
  private readonly offsets: number[];

  constructor(parts: readonly ContentPart[]) {
    this.parts = parts.filter((part) => part.size > 0);
    this.offsets = [];
    let offset = 0;
    for (const part of this.parts) {
      this.offsets.push(offset);
      offset += part.size;
    }
    this.size = offset;
  }

  /**
   * Opens bytes `start` to `end` (inclusive) of the content, or all of it.
   * The stream fails when a part sends more or fewer bytes than its size,
   * because every later byte would then land at the wrong offset.
   */
  open(range?: { start: number; end: number }): Readable {
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? this.size - 1, this.size - 1);
    if (start > end) return Readable.from([]);
    return Readable.from(this.readRange(start, end), { objectMode: false });
  }

  private async *readRange(start: number, end: number): AsyncGenerator<Buffer> {
    let index = this.partAt(start);
    let position = start;
    while (position <= end) {
      const part = this.parts[index]!;
      const partStart = this.offsets[index]!;
      const from = position - partStart;
      const to = Math.min(end - partStart, part.size - 1);
      yield* readExactly(part, partStart, from, to);
      position = partStart + to + 1;
      index++;
    }
  }

  /** Returns the index of the part that contains byte `offset`, by binary search. */
  private partAt(offset: number): number {
    let low = 0;
    let high = this.parts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (this.offsets[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

async function* readExactly(
  part: ContentPart,
  partStart: number,
  from: number,
  to: number,
): AsyncGenerator<Buffer> {
  const expected = to - from + 1;
  const where = `content part at offset ${partStart}`;
  let received = 0;
  for await (const chunk of await part.open(from, to)) {
    const buffer = chunk as Buffer;
    received += buffer.length;
    if (received > expected)
      throw new Error(`${where} sent more than the ${expected} bytes requested`);
    yield buffer;
  }
  if (received !== expected)
    throw new Error(`${where} ended after ${received} of ${expected} bytes`);
}
