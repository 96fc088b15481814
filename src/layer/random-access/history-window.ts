/**
 * A copy of the last bytes of a stream, up to a fixed size, kept in a ring.
 * Unlike OutputTail it copies what it is given, so it stays valid when the
 * chunks are later reused or transferred to another thread.
 */
export class HistoryWindow {
  private readonly ring: Buffer;
  /** Index in `ring` where the next byte goes. */
  private next = 0;
  private filled = 0;

  constructor(size: number) {
    this.ring = Buffer.alloc(size);
  }

  add(chunk: Uint8Array): void {
    const size = this.ring.length;
    const kept = chunk.subarray(Math.max(0, chunk.length - size));
    const first = Math.min(kept.length, size - this.next);
    this.ring.set(kept.subarray(0, first), this.next);
    this.ring.set(kept.subarray(first), 0);
    this.next = (this.next + kept.length) % size;
    this.filled = Math.min(size, this.filled + kept.length);
  }

  /** Returns a copy of the kept bytes, oldest first. */
  snapshot(): Buffer {
    const start = (this.next - this.filled + this.ring.length) % this.ring.length;
    if (start + this.filled <= this.ring.length) return Buffer.from(this.ring.subarray(start, start + this.filled));
    return Buffer.concat([this.ring.subarray(start), this.ring.subarray(0, this.next)]);
  }
}
