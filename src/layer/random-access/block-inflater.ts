import pakoInflate from "pako/lib/zlib/inflate.js";
import ZStream from "pako/lib/zlib/zstream.js";

// zlib's return codes and flush values (zlib.h), which pako keeps.
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_BLOCK = 5;
/** Negative window bits select raw deflate (RFC 1951) with a 32 KiB window. */
const RAW_DEFLATE_WINDOW_BITS = -15;

// Bits of ZStream.data_type after inflate(), as documented in zlib.h.
const DATA_TYPE_UNUSED_BITS = 7;
const DATA_TYPE_LAST_BLOCK = 64;
const DATA_TYPE_BLOCK_BOUNDARY = 128;

/** The state in which one call to step() returned. */
export interface InflateStep {
  /** True right before a block header that is not after the last block. */
  atBlockBoundary: boolean;
  /** At a block boundary: bits of the last consumed input byte that belong to the next block. */
  unusedBits: number;
  /** True once the last block has been inflated. The rest of the input is not deflate data. */
  streamEnd: boolean;
}

/**
 * Inflates one raw deflate stream with pako's port of zlib, stopping at
 * every block boundary (the Z_BLOCK flush) so the caller can record the bit
 * position of each block header. Node's zlib does not report block
 * boundaries, which is why the indexing pass uses pako.
 */
export class BlockInflater {
  private readonly strm = new ZStream();
  private buffer: Buffer;
  private stepStart = 0;
  private takenUpTo = 0;
  private readonly untaken: Buffer[] = [];
  private untakenBytes = 0;

  constructor(private readonly outputBufferSize = 256 * 1024) {
    // allocUnsafeSlow never takes memory from Node's shared pool, so each
    // buffer has an ArrayBuffer of its own, which can be transferred.
    this.buffer = Buffer.allocUnsafeSlow(outputBufferSize);
    this.strm.output = this.buffer;
    this.strm.avail_out = outputBufferSize;
    const status = pakoInflate.inflateInit2(this.strm, RAW_DEFLATE_WINDOW_BITS);
    if (status !== Z_OK) throw new Error(`pako inflateInit2 failed with status ${status}`);
  }

  /** Input bytes that the inflater has not consumed yet. */
  get availableInput(): number {
    return this.strm.avail_in;
  }

  /** Uncompressed bytes produced and not yet returned by takeOutput(). */
  get pendingOutputBytes(): number {
    return this.untakenBytes + this.strm.next_out - this.takenUpTo;
  }

  /** Sets the next input chunk. Call it only once availableInput is 0. */
  setInput(chunk: Uint8Array): void {
    this.strm.input = chunk;
    this.strm.next_in = 0;
    this.strm.avail_in = chunk.length;
  }

  /**
   * Inflates until the next block boundary, the end of the input or the end
   * of the stream. Throws with zlib's message when the data is invalid.
   */
  step(): InflateStep {
    if (this.strm.avail_out === 0) this.replaceFullBuffer();
    this.stepStart = this.strm.next_out;
    const status = pakoInflate.inflate(this.strm, Z_BLOCK);
    if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
      throw new Error(this.strm.msg || `pako inflate failed with status ${status}`);
    }

    const dataType = this.strm.data_type;
    const atBoundary = (dataType & DATA_TYPE_BLOCK_BOUNDARY) !== 0;
    const afterLastBlock = (dataType & DATA_TYPE_LAST_BLOCK) !== 0;
    return {
      atBlockBoundary: atBoundary && !afterLastBlock && status !== Z_STREAM_END,
      unusedBits: dataType & DATA_TYPE_UNUSED_BITS,
      streamEnd: status === Z_STREAM_END,
    };
  }

  /** Returns the bytes that the last step() call produced, without copying them. */
  lastStepOutput(): Buffer {
    return this.buffer.subarray(this.stepStart, this.strm.next_out);
  }

  /**
   * Returns the bytes produced since the last call, in order, and never
   * writes them again. With `includeCurrent` false it returns only the
   * buffers that are full, so when no call took part of a buffer, each
   * returned Buffer is a whole ArrayBuffer that no later step touches.
   */
  takeOutput(includeCurrent = true): Buffer[] {
    const output = this.untaken.splice(0);
    this.untakenBytes = 0;
    if (!includeCurrent) return output;
    const current = this.buffer.subarray(this.takenUpTo, this.strm.next_out);
    if (current.length > 0) output.push(current);
    this.takenUpTo = this.strm.next_out;
    return output;
  }

  /** Releases pako's window; the inflater cannot be used afterwards. */
  end(): void {
    pakoInflate.inflateEnd(this.strm);
  }

  private replaceFullBuffer(): void {
    const rest = this.buffer.subarray(this.takenUpTo);
    if (rest.length > 0) {
      this.untaken.push(rest);
      this.untakenBytes += rest.length;
    }
    this.buffer = Buffer.allocUnsafeSlow(this.outputBufferSize);
    this.strm.output = this.buffer;
    this.strm.next_out = 0;
    this.strm.avail_out = this.outputBufferSize;
    this.takenUpTo = 0;
  }
}
