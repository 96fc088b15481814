import type { BlockInflater, InflateStep } from "./block-inflater.js";
import { OutputBuffers } from "./output-buffers.js";
import { pakoInflate, ZStream } from "./pako-modules.js";

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

/**
 * Inflates one raw deflate stream with pako's port of zlib, stopping at
 * every block boundary (the Z_BLOCK flush), where zlib's data_type gives
 * the bit position of the next block header. It is several times slower
 * than NativeBlockInflater, and the pass uses it where that cannot run.
 */
export class PakoBlockInflater implements BlockInflater {
  private readonly strm = new ZStream();
  private readonly output: OutputBuffers;
  private stepStart = 0;
  private inputLength = 0;

  constructor(outputBufferSize = 256 * 1024) {
    this.output = new OutputBuffers(outputBufferSize);
    this.strm.output = this.output.current;
    this.strm.avail_out = outputBufferSize;
    const status = pakoInflate.inflateInit2(this.strm, RAW_DEFLATE_WINDOW_BITS);
    if (status !== Z_OK) throw new Error(`pako inflateInit2 failed with status ${status}`);
  }

  get availableInput(): number {
    return this.strm.avail_in;
  }

  get pendingOutputBytes(): number {
    return this.output.pendingBytes(this.strm.next_out);
  }

  setInput(chunk: Uint8Array): void {
    this.strm.input = chunk;
    this.strm.next_in = 0;
    this.strm.avail_in = chunk.length;
    this.inputLength = chunk.length;
  }

  /** Inflates until the next block boundary, whether or not a checkpoint is due. */
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
    const streamEnd = status === Z_STREAM_END;
    if (!atBoundary || afterLastBlock || streamEnd) return { boundaryBitOffset: undefined, streamEnd };
    // The header starts in the last consumed byte when some of its bits are unused.
    const consumed = this.inputLength - this.strm.avail_in;
    return { boundaryBitOffset: consumed * 8 - (dataType & DATA_TYPE_UNUSED_BITS), streamEnd };
  }

  lastStepOutput(): Buffer {
    return this.output.current.subarray(this.stepStart, this.strm.next_out);
  }

  takeOutput(includeCurrent = true): Buffer[] {
    return this.output.take(this.strm.next_out, includeCurrent);
  }

  /** Releases pako's window. The inflater cannot be used afterwards. */
  end(): void {
    pakoInflate.inflateEnd(this.strm);
  }

  private replaceFullBuffer(): void {
    this.output.replace(this.strm.next_out);
    this.strm.output = this.output.current;
    this.strm.next_out = 0;
    this.strm.avail_out = this.output.current.length;
  }
}
