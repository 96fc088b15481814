/**
 * The output side of a block inflater: the buffer that inflate() writes
 * into now, and the bytes of earlier buffers that take() has not returned.
 * Each buffer comes from allocUnsafeSlow, which never takes memory from
 * Node's shared pool, so each has an ArrayBuffer of its own that can be
 * transferred to another thread. Each method takes `end`, the offset in
 * the current buffer where the bytes that the inflater hands out end.
 */
export class OutputBuffers {
  /** The buffer that inflate() writes into. */
  current: Buffer;
  private takenUpTo = 0;
  private readonly untaken: Buffer[] = [];
  private untakenBytes = 0;

  constructor(private readonly size: number) {
    this.current = Buffer.allocUnsafeSlow(size);
  }

  /** Bytes not yet taken, with those of the current buffer up to `end`. */
  pendingBytes(end: number): number {
    return this.untakenBytes + end - this.takenUpTo;
  }

  /** Returns the untaken bytes of earlier buffers, and with `includeCurrent` those of the current buffer up to `end`. */
  take(end: number, includeCurrent: boolean): Buffer[] {
    const output = this.untaken.splice(0);
    this.untakenBytes = 0;
    if (!includeCurrent) return output;
    const rest = this.current.subarray(this.takenUpTo, end);
    if (rest.length > 0) output.push(rest);
    this.takenUpTo = end;
    return output;
  }

  /** Keeps the current buffer's untaken bytes up to `end` for take(), and starts a new buffer. */
  replace(end: number): void {
    const rest = this.current.subarray(this.takenUpTo, end);
    if (rest.length > 0) {
      this.untaken.push(rest);
      this.untakenBytes += rest.length;
    }
    this.current = Buffer.allocUnsafeSlow(this.size);
    this.takenUpTo = 0;
  }
}
