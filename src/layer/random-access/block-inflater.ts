import { log } from "../../log.js";
import { isNativeInflateUsable } from "./native-raw-inflate.js";
import { NativeBlockInflater } from "./native-block-inflater.js";
import { PakoBlockInflater } from "./pako-block-inflater.js";

/** The state in which one call to BlockInflater.step() returned. */
export interface InflateStep {
  /**
   * Set when the step stopped right before a block header that is not after
   * the last block: the header's offset in bits from the start of the
   * current input chunk. It is negative when the header starts in the
   * previous chunk's last byte.
   */
  boundaryBitOffset: number | undefined;
  /** True once the last block has been inflated. The rest of the input is not deflate data. */
  streamEnd: boolean;
}

/**
 * Inflates one raw deflate stream for the indexing pass and reports block
 * boundaries, where a checkpoint can be recorded. Output is written into
 * buffers of a fixed size. lastStepOutput() views the bytes of the last
 * step, and takeOutput() hands the buffers on.
 */
export interface BlockInflater {
  /** Input bytes that the inflater has not consumed yet. */
  readonly availableInput: number;
  /** Uncompressed bytes that steps returned and takeOutput() has not. */
  readonly pendingOutputBytes: number;
  /** Sets the next input chunk. Call it only once availableInput is 0. */
  setInput(chunk: Uint8Array): void;
  /**
   * Inflates until a block boundary or the end of the input or of the
   * stream. `bytesUntilDue` is the output still to come before a checkpoint
   * is due: an inflater may inflate freely until then, and report only
   * boundaries after it. Throws with zlib's message when the data is invalid.
   */
  step(bytesUntilDue: number): InflateStep;
  /** Returns the bytes that the last step() call produced, without copying them. */
  lastStepOutput(): Buffer;
  /**
   * Returns the bytes that steps produced since the last call, in order, and
   * never writes them again. With `includeCurrent` false it returns only the
   * buffers that are full, so when no call took part of a buffer, each
   * returned Buffer is a whole ArrayBuffer that no later step touches.
   */
  takeOutput(includeCurrent?: boolean): Buffer[];
  /** Frees the inflater's state. It cannot be used afterwards. */
  end(): void;
}

export type BlockInflaterKind = "native" | "pako";

let fallbackLogged = false;

/** Returns the inflater that this Node.js version can run fastest: Node's zlib, else pako, which it logs once. */
export function fastestBlockInflater(): BlockInflaterKind {
  if (isNativeInflateUsable()) return "native";
  if (!fallbackLogged) {
    fallbackLogged = true;
    log.warn("Node's zlib binding failed its check, so gzip layers are indexed with pako, several times slower", {
      node: process.version,
    });
  }
  return "pako";
}

export function createBlockInflater(kind: BlockInflaterKind, outputBufferSize: number): BlockInflater {
  return kind === "native" ? new NativeBlockInflater(outputBufferSize) : new PakoBlockInflater(outputBufferSize);
}
