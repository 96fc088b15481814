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
 * last consumed byte unused, and Node does not report how many, so each
 * count is tried: inflating from that bit, with the window as history,
 * must give exactly the probe's output. Returns undefined when no count
 * does, so the caller skips this boundary.
 *
 * Several counts pass when the next block is stored and its 3 header bits
 * can also be read from zero bits nearby: all of them then skip to the
 * same byte for the block's length and decode the same from there on. The
 * latest start is returned, as it is the fewest bytes to fetch. Other
 * blocks cannot decode alike from two positions for a whole probe, and a
 * wrong pick would still fail the interval's CRC-32 on every read.
 */
export function findBlockStart(probe: BoundaryProbe): number | undefined {
  for (let unusedBits = 0; unusedBits < 8; unusedBits++) {
    const bitOffset = probe.consumed * 8 - unusedBits;
    if (inflatesToProbe(probe, bitOffset)) return bitOffset;
  }
  return undefined;
}

function inflatesToProbe(probe: BoundaryProbe, bitOffset: number): boolean {
  const byteIndex = Math.floor(bitOffset / 8);
  const bits = bitOffset % 8;
  const inputs =
    bits === 0
      ? [probe.input.subarray(byteIndex)]
      : [preambleForByte(bits, probe.input[byteIndex]!), probe.input.subarray(byteIndex + 1)];

  // One byte more than the probe, so output that goes on past it shows.
  const output = Buffer.allocUnsafe(probe.output.length + 1);
  let produced = 0;
  let stoppedWithInputLeft = false;
  const inflater = new NativeRawInflate(probe.window);
  try {
    for (const input of inputs) {
      const result = inflater.write(constants.Z_NO_FLUSH, input, output, produced);
      produced = output.length - result.availableOutput;
      stoppedWithInputLeft = result.availableInput > 0 && result.availableOutput > 0;
      if (stoppedWithInputLeft || result.availableOutput === 0) break;
    }
  } catch {
    return false;
  } finally {
    inflater.close();
  }

  if (produced < probe.output.length) return false;
  if (!output.subarray(0, probe.output.length).equals(probe.output)) return false;
  // Past a stream end, the candidate must end as well, at the same byte of output.
  return !probe.streamEnded || (produced === probe.output.length && stoppedWithInputLeft);
}
