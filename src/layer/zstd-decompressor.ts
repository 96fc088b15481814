import { Duplex, type Transform } from "node:stream";
import * as zlib from "node:zlib";

import { Decompress } from "fzstd";

/**
 * Creates a zstd decompressing stream: Node's own when the runtime has one
 * (`zlib.createZstdDecompress`, added in Node 22.15 and 23.8), else fzstd's
 * pure-JS streaming decoder. Both read concatenated frames and skip
 * skippable frames.
 */
export function createZstdDecompressor(): Duplex {
  const nodeFactory = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (typeof nodeFactory === "function") return nodeFactory();
  return Duplex.from(decompressWithFzstd);
}

/**
 * Input is fed to fzstd in small slices because one compressed byte can
 * expand to 32 KiB (an RLE block is 128 KiB from 4 bytes). The output of one
 * slice stays in memory until the reader takes it, at most 8 MiB per slice.
 */
const FZSTD_SLICE_SIZE = 256;

// NOTE: fzstd allocates each frame's window as its header declares, up to
// 2 GiB, so a hostile frame header can cost that much memory. Node's decoder
// rejects windows above 128 MiB by default. fzstd 0.1 also skips the
// optional XXH64 content checksum. Corruption inside a block then shows up
// as a tar error, and the source's blob digest check catches it as well.
async function* decompressWithFzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const output: Buffer[] = [];
  const decoder = new Decompress((data) => {
    if (data.length > 0) output.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });

  for await (const chunk of source) {
    for (let start = 0; start < chunk.length; start += FZSTD_SLICE_SIZE) {
      decoder.push(chunk.subarray(start, start + FZSTD_SLICE_SIZE));
      yield* output.splice(0);
    }
  }
  decoder.push(new Uint8Array(0), true);
  yield* output.splice(0);
}
