/**
 * The last bytes of a stream of chunks. By default it keeps references to
 * the chunks themselves, so that nothing is copied until snapshot() is
 * called, and chunks must not be modified after they are added. With
 * `copyChunks` it keeps copies, for chunks whose memory is reused or
 * transferred to another thread.
 */
export class OutputTail {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly size: number,
    private readonly copyChunks = false,
  ) {}

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(this.copyChunks ? Buffer.from(chunk) : chunk);
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
