// Types for the parts of pako 2's low-level zlib port that regdav uses. pako
// ships no types for lib/zlib/, and @types/pako covers only its top-level API.

declare module "pako/lib/zlib/zstream.js" {
  /** zlib's z_stream: input and output buffers with positions and counters. */
  class ZStream {
    input: Uint8Array | null;
    next_in: number;
    avail_in: number;
    total_in: number;
    output: Uint8Array | null;
    next_out: number;
    avail_out: number;
    total_out: number;
    msg: string;
    /**
     * After inflate(): the unused bits of the last input byte, plus 64 in the
     * last block and 128 at a block boundary.
     */
    data_type: number;
    adler: number;
  }
  export default ZStream;
}

declare module "pako/lib/zlib/inflate.js" {
  import type ZStream from "pako/lib/zlib/zstream.js";

  const inflate: {
    /** windowBits -8..-15 selects raw deflate, without a zlib or gzip wrapper. */
    inflateInit2(strm: ZStream, windowBits: number): number;
    inflate(strm: ZStream, flush: number): number;
    inflateEnd(strm: ZStream): number;
  };
  export default inflate;
}

declare module "pako/lib/zlib/crc32.js" {
  /** Continues a CRC-32 over buf[pos, pos+len). The result is a signed 32-bit integer. */
  function crc32(crc: number, buf: Uint8Array, len: number, pos: number): number;
  export default crc32;
}
