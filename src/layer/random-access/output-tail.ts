/**
 * The last bytes of a stream of chunks, kept as references to the chunks
 * themselves so that nothing is copied until snapshot() is called. Chunks
 * must not be modified after they are added.
 */
export class OutputTail {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly size: number) {}

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0]!.length >= this.size) {
      this.bytes -= this.chunks.shift()!.length;
    }
  }

  /** Returns a copy of the last `size` bytes, or of all of them when fewer were added. */
  snapshot(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.size));
  }

  clear(): void {
    this.chunks.length = 0;
    this.bytes = 0;
  }
}
