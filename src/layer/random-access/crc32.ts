import * as zlib from "node:zlib";

import { pakoCrc32 } from "./pako-modules.js";

type Crc32 = (data: Uint8Array, value: number) => number;

/** Node's native crc32 exists from Node 20.15 and 22.2; older runtimes fall back to pako's. */
const nativeCrc32 = (zlib as { crc32?: Crc32 }).crc32;

/**
 * Continues the CRC-32 (the checksum of gzip trailers, as in zlib) over
 * `data`, starting from `value` (0 for a new checksum). Returns it unsigned.
 */
export function crc32(data: Uint8Array, value: number): number {
  if (nativeCrc32) return nativeCrc32(data, value);
  return pakoCrc32(value, data, data.length, 0) >>> 0;
}
