import { createRequire } from "node:module";

import type PakoCrc32 from "pako/lib/zlib/crc32.js";
import type PakoInflate from "pako/lib/zlib/inflate.js";
import type PakoZStream from "pako/lib/zlib/zstream.js";

/*
 * The parts of pako's low-level zlib port that regdav uses, loaded with
 * require() and not with import. They are CommonJS modules, and they are the
 * only ones the index worker loads. On Node.js 20.20.2 a process whose
 * idle index worker had imported them took 68 MiB of RSS, and 58 MiB when
 * the worker loaded them with require(), measured once with
 * process.memoryUsage() in a script. Each worker pays that again. The
 * peak of a whole first listing fell by less, about 3 MiB (medians of 5 runs
 * of the memory-large bench suite: 170 and 167 MiB).
 */
const require = createRequire(import.meta.url);

/** pako's port of zlib's inflate functions, which report deflate block boundaries. */
export const pakoInflate = require("pako/lib/zlib/inflate.js") as typeof PakoInflate;

/** zlib's z_stream, the state that pakoInflate works on. */
export const ZStream = require("pako/lib/zlib/zstream.js") as typeof PakoZStream;

/** CRC-32 over part of a buffer, as zlib computes it. */
export const pakoCrc32 = require("pako/lib/zlib/crc32.js") as typeof PakoCrc32;
