import { constants } from "node:zlib";

import type { BlockInflater, InflateStep } from "./block-inflater.js";
import { BLOCK_START_PROBE_BYTES, findBlockStart } from "./block-start-search.js";
import { DEFLATE_WINDOW_SIZE } from "./gzip-checkpoint-index.js";
import { HistoryWindow } from "./history-window.js";
import { NativeRawInflate, type InflateWriteResult } from "./native-raw-inflate.js";
import { OutputBuffers } from "./output-buffers.js";

const NO_INPUT = new Uint8Array(0);
const NO_OUTPUT = Buffer.alloc(0);

/**
 * Compressed bytes that a probe may copy before it gives up its boundary.
 * The probe keeps every input byte until it has BLOCK_START_PROBE_BYTES of
 * output. A Huffman code spends at most 15 bits on a byte, so 66 KiB of
 * output takes at most about 124 KiB of input plus the block headers, and a
 * sync flush adds 5 bytes. But a hostile stream of empty blocks produces no
 * output at all, and would make the probe hold the rest of the layer. The
 * boundary is then skipped, and the next one tried, as when findBlockStart()
 * finds no start.
 */
export const MAX_PROBE_INPUT_BYTES = 1024 * 1024;

/** A block boundary whose bit position waits for the probe bytes after it. */
interface PendingBoundary {
  /** Copies of the compressed bytes consumed since the byte before the boundary, that byte first. */
  input: Buffer[];
  /** Offset of that byte from the start of the first input chunk. */
  inputStart: number;
  window: Buffer;
  /** Offset of the first probe byte in the output buffer. */
  probeStart: number;
  /** Bytes in `input`. */
  inputBytes: number;
}

/**
 * Inflates one raw deflate stream with Node's zlib. On a 2-core machine,
 * `node bench/gzip-index.bench.mjs` timed the indexing pass over a 200 MiB
 * tar at 0.42 s with it and 0.97 s with pako. Until a checkpoint is due it
 * inflates freely.
 * Then it stops at each block boundary (the Z_BLOCK flush) until it finds
 * one whose bit position it can establish. Node does not report that
 * position, so the inflater goes on for BLOCK_START_PROBE_BYTES of output,
 * over as many input chunks as that takes, and findBlockStart() tries each
 * possible position against those bytes. The probe bytes are held back and
 * returned by the next step, after the caller has recorded the boundary.
 */
export class NativeBlockInflater implements BlockInflater {
  private readonly inflater = new NativeRawInflate();
  private readonly history = new HistoryWindow(DEFLATE_WINDOW_SIZE);
  private readonly output: OutputBuffers;
  /** Bytes of the current output buffer that zlib has written. */
  private written = 0;
  /** The bytes of the last step, kept as a view because a later step may retire its buffer. */
  private lastOutput: Buffer = NO_OUTPUT;
  /** Bytes of the current output buffer that steps have returned. Those from here to `written` are probe bytes held back. */
  private stepEnd = 0;
  private input: Uint8Array = NO_INPUT;
  private inputOffset = 0;
  /** Bytes of the input chunks before the current one. */
  private inputBase = 0;
  /** The last byte of the previous input chunk, where a block header at the current chunk's start may begin. */
  private previousChunkLastByte: number | undefined;
  private pending: PendingBoundary | undefined;
  private ended = false;

  constructor(outputBufferSize = 256 * 1024) {
    // The probe bytes must fit in one buffer.
    this.output = new OutputBuffers(Math.max(outputBufferSize, BLOCK_START_PROBE_BYTES));
  }

  get availableInput(): number {
    return this.input.length - this.inputOffset;
  }

  get pendingOutputBytes(): number {
    return this.output.pendingBytes(this.stepEnd);
  }

  /** Compressed bytes that the probe in progress has copied, 0 when none runs. */
  get probeInputBytes(): number {
    return this.pending?.inputBytes ?? 0;
  }

  setInput(chunk: Uint8Array): void {
    if (this.input.length > 0) this.previousChunkLastByte = this.input[this.input.length - 1];
    this.inputBase += this.input.length;
    this.input = chunk;
    this.inputOffset = 0;
  }

  step(bytesUntilDue: number): InflateStep {
    if (this.pending) {
      this.lastOutput = NO_OUTPUT;
      return this.continueProbe();
    }
    if (this.written > this.stepEnd) return this.returnProbeBytes();
    if (this.ended) {
      this.lastOutput = NO_OUTPUT;
      return this.endStream();
    }
    if (this.written === this.output.current.length) this.retireBuffer();
    const stepStart = this.written;

    // Free inflating stops one byte short of the due point: when its output ends
    // right at a block's end, inflate() has already read the next block's header.
    const seeking = bytesUntilDue <= 1;
    const room = this.output.current.length - this.written;
    const flush = seeking ? constants.Z_BLOCK : constants.Z_NO_FLUSH;
    const consumedBefore = this.inputOffset;
    const result = this.inflate(flush, seeking ? room : Math.min(room, bytesUntilDue - 1));
    this.finishStep(stepStart);

    // A call that takes no input and gives no output, with both at hand, comes
    // after the stream's end. That end can have filled the output room exactly,
    // so the call before it did not show it.
    const progressed = this.inputOffset > consumedBefore || this.lastOutput.length > 0;
    if (result.availableInput > 0 && !progressed) return this.endStream();
    // zlib stops with room and input left only at the stream's end, or, with Z_BLOCK, at a block boundary.
    const stopped = result.availableInput > 0 && result.availableOutput > 0;
    if (!stopped) return { boundaryBitOffset: undefined, streamEnd: false };
    if (!seeking) return this.endStream();
    if (this.lastOutput.length < bytesUntilDue) return { boundaryBitOffset: undefined, streamEnd: false };
    return this.startProbe();
  }

  lastStepOutput(): Buffer {
    return this.lastOutput;
  }

  takeOutput(includeCurrent = true): Buffer[] {
    return this.output.take(this.stepEnd, includeCurrent);
  }

  end(): void {
    this.inflater.close();
  }

  /** Starts the probe after the block boundary where inflate() has just stopped. */
  private startProbe(): InflateStep {
    const boundaryByte =
      this.inputOffset > 0 ? this.input[this.inputOffset - 1] : this.previousChunkLastByte;
    if (boundaryByte === undefined) return { boundaryBitOffset: undefined, streamEnd: false };
    if (this.output.current.length - this.written < BLOCK_START_PROBE_BYTES) this.retireBuffer();
    this.pending = {
      input: [Buffer.of(boundaryByte)],
      inputStart: this.inputBase + this.inputOffset - 1,
      window: this.history.snapshot(),
      probeStart: this.written,
      inputBytes: 1,
    };
    return this.continueProbe();
  }

  /**
   * Inflates more probe bytes from the current input. Once there are enough,
   * or the stream has ended, it establishes the boundary's bit position and
   * returns it. The stream ended at the boundary itself when inflate() takes
   * no input and gives no output there.
   */
  private continueProbe(): InflateStep {
    const pending = this.pending!;
    const probed = this.written - pending.probeStart;
    const consumedBefore = this.inputOffset;
    const result = this.inflate(constants.Z_NO_FLUSH, BLOCK_START_PROBE_BYTES - probed);
    const consumed = this.input.subarray(consumedBefore, this.inputOffset);
    pending.input.push(Buffer.from(consumed));
    pending.inputBytes += consumed.length;

    const output = this.output.current.subarray(pending.probeStart, this.written);
    const streamEnded = result.availableInput > 0 && result.availableOutput > 0;
    if (!streamEnded && output.length < BLOCK_START_PROBE_BYTES) {
      // The input chunk ran out: the next step goes on with the next one,
      // unless the probe has copied too much input for the output it has.
      if (pending.inputBytes > MAX_PROBE_INPUT_BYTES) this.pending = undefined;
      return { boundaryBitOffset: undefined, streamEnd: false };
    }
    this.pending = undefined;
    if (output.length === 0) return this.endStream();
    if (streamEnded) this.ended = true;

    const input = Buffer.concat(pending.input);
    const start = findBlockStart({ input, consumed: 1, window: pending.window, output, streamEnded });
    if (start === undefined) return { boundaryBitOffset: undefined, streamEnd: false };
    const boundaryBitOffset = (pending.inputStart - this.inputBase) * 8 + start;
    return { boundaryBitOffset, streamEnd: false };
  }

  private returnProbeBytes(): InflateStep {
    this.finishStep(this.stepEnd);
    return { boundaryBitOffset: undefined, streamEnd: this.ended };
  }

  /** Makes the bytes from `stepStart` to those written so far the step's output. */
  private finishStep(stepStart: number): void {
    this.stepEnd = this.written;
    this.lastOutput = this.output.current.subarray(stepStart, this.stepEnd);
    this.history.add(this.lastOutput);
  }

  private endStream(): InflateStep {
    this.ended = true;
    return { boundaryBitOffset: undefined, streamEnd: true };
  }

  private inflate(flush: number, outputLength: number): InflateWriteResult {
    const input = this.input.subarray(this.inputOffset);
    const result = this.inflater.write(flush, input, this.output.current, this.written, outputLength);
    this.inputOffset += input.length - result.availableInput;
    this.written += outputLength - result.availableOutput;
    return result;
  }

  /** Moves the current buffer's bytes that takeOutput() has not returned to the finished ones, and starts a new buffer. */
  private retireBuffer(): void {
    this.output.replace(this.written);
    this.written = 0;
    this.stepEnd = 0;
  }
}
