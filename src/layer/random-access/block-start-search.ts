import { constants } from "node:zlib";

import { preambleForByte } from "./deflate-preamble.js";
import { NativeRawInflate } from "./native-raw-inflate.js";

/**
 * Output bytes after a block boundary that a candidate start must reproduce.
 * It is longer than the largest stored block (65535 bytes), so a candidate
 * that reads a stored block's header from the wrong bits, and takes a
 * non-final block for the final one, has stopped before the end of it.
 */
export const BLOCK_START_PROBE_BYTES = 66 * 1024;

/** The output that the real inflater produced right after a block boundary. */
export interface BoundaryProbe {
  /** The input chunk that contains the boundary. */
  input: Uint8Array;
  /** Bytes of `input` that inflate() had consumed when it stopped at the boundary, at least 1. */
  consumed: number;
  /** Up to 32 KiB of uncompressed data before the boundary. */
  window: Buffer;
  /** The uncompressed bytes right after the boundary. */
  output: Buffer;
  /** True when the deflate stream ended within `output`. */
  streamEnded: boolean;
}

/**
 * Finds where the block header after a boundary starts, in bits from the
 * start of the probe's input. zlib's Z_BLOCK stop leaves 0 to 7 bits of the
 * last consumed byte unused, and Node does not report how many. So each
 * count is tried: inflating from that bit, with the window as history,
 * must give exactly the probe's output. The real start always does.
 *
 * When several starts do, they are all safe only if each reads a stored
 * block header with the same final-block bit, and skips to the same byte
 * for the block's length: they then decode alike to the end. That happens
 * where the header can also be read from zero bits next to it. Any other
 * set of matches, such as a stored header one byte later that data of one
 * repeated byte hides, returns undefined, so the caller skips this
 * boundary.
 */
export function findBlockStart(probe: BoundaryProbe): number | undefined {
  const matches: number[] = [];
  // One byte more than the probe, so output that goes on past it shows.
  const output = candidateOutput(probe.output.length + 1);
  // One inflater, reset between the starts, because each new one copies the window and allocates zlib's state.
  const inflater = new NativeRawInflate(probe.window);
  try {
    for (let unusedBits = 0; unusedBits < 8; unusedBits++) {
      const bitOffset = probe.consumed * 8 - unusedBits;
      inflater.reset();
      if (inflatesToProbe(probe, bitOffset, inflater, output)) matches.push(bitOffset);
    }
  } finally {
    inflater.close();
  }
  if (matches.length <= 1) return matches[0];
  const headers = matches.map((bitOffset) => storedHeaderAt(probe.input, bitOffset));
  const first = headers[0];
  const alike = headers.every(
    (header) => header !== undefined && header.final === first?.final && header.lengthByte === first.lengthByte,
  );
  return alike ? matches[0] : undefined;
}

/**
 * The buffer for a candidate's output, reused by every search on this
 * thread: the search is synchronous, and one buffer per boundary would be
 * garbage that the heap collects only later.
 */
let candidateBuffer: Buffer | undefined;

function candidateOutput(length: number): Buffer {
  if (length > BLOCK_START_PROBE_BYTES + 1) return Buffer.allocUnsafe(length);
  candidateBuffer ??= Buffer.allocUnsafeSlow(BLOCK_START_PROBE_BYTES + 1);
  return candidateBuffer.subarray(0, length);
}

/** Reads the block header at `bitOffset` as a stored block's, or returns undefined for another block type. */
function storedHeaderAt(input: Uint8Array, bitOffset: number): { final: number; lengthByte: number } | undefined {
  const bit = (offset: number) => (input[offset >>> 3]! >>> (offset & 7)) & 1;
  const blockType = bit(bitOffset + 1) | (bit(bitOffset + 2) << 1);
  if (blockType !== 0) return undefined;
  // A stored block's length starts at the first byte boundary after its 3 header bits.
  return { final: bit(bitOffset), lengthByte: Math.ceil((bitOffset + 3) / 8) };
}

/**
 * Tells whether inflating from `bitOffset` gives the probe's output, with
 * `inflater` freshly reset to the probe's window and `output` for the
 * candidate's bytes.
 */
function inflatesToProbe(probe: BoundaryProbe, bitOffset: number, inflater: NativeRawInflate, output: Buffer): boolean {
  const byteIndex = Math.floor(bitOffset / 8);
  const bits = bitOffset % 8;
  const inputs =
    bits === 0
      ? [probe.input.subarray(byteIndex)]
      : [preambleForByte(bits, probe.input[byteIndex]!), probe.input.subarray(byteIndex + 1)];

  let produced = 0;
  let stoppedWithInputLeft = false;
  try {
    for (const input of inputs) {
      const result = inflater.write(constants.Z_NO_FLUSH, input, output, produced);
      produced = output.length - result.availableOutput;
      stoppedWithInputLeft = result.availableInput > 0 && result.availableOutput > 0;
      if (stoppedWithInputLeft || result.availableOutput === 0) break;
    }
  } catch {
    return false;
  }

  if (produced < probe.output.length) return false;
  if (!output.subarray(0, probe.output.length).equals(probe.output)) return false;
  // Past a stream end, the candidate must end as well, at the same byte of output.
  return !probe.streamEnded || (produced === probe.output.length && stoppedWithInputLeft);
}
