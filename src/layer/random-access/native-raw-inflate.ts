import * as zlib from "node:zlib";

/**
 * The parts of a Node zlib stream's binding that this file calls. They are
 * not public API. Node's own synchronous zlib functions (processChunkSync
 * in lib/zlib.js) call them the same way, which is why they are unlikely
 * to change, but a later Node could change them. isNativeInflateUsable()
 * checks them before a pass relies on them.
 */
interface ZlibBinding {
  writeSync(
    flush: number,
    input: Uint8Array,
    inputOffset: number,
    inputLength: number,
    output: Uint8Array,
    outputOffset: number,
    outputLength: number,
  ): void;
  onerror: (message: unknown, errno: unknown) => void;
}

interface ZlibStreamInternals {
  _handle?: ZlibBinding;
  /** Filled by writeSync: [available output, available input] after the call. */
  _writeState?: Uint32Array;
}

/** The output room and input bytes that one write() left unused: zlib's avail_out and avail_in after inflate(). */
export interface InflateWriteResult {
  availableOutput: number;
  availableInput: number;
}

/**
 * A raw deflate (RFC 1951) inflater that runs Node's own zlib synchronously,
 * one inflate() call per write(), with the flush value of the caller's
 * choice. With Z_BLOCK, inflate() stops at the next block boundary, which
 * Node's stream API does not allow: a stream treats input left over with
 * room to spare in the output as the end of the data.
 *
 * Throws a plain Error with zlib's message when the data is invalid.
 */
export class NativeRawInflate {
  private readonly stream: zlib.InflateRaw;
  private readonly binding: ZlibBinding;
  private readonly state: Uint32Array;
  private failure: string | undefined;

  /** Starts a raw inflate stream, with `dictionary` as the window of history before its first block. */
  constructor(dictionary?: Buffer) {
    // The stream's own output buffer is never used, so it gets the smallest size zlib allows.
    const options: zlib.ZlibOptions = { chunkSize: zlib.constants.Z_MIN_CHUNK };
    if (dictionary && dictionary.length > 0) options.dictionary = dictionary;
    this.stream = zlib.createInflateRaw(options);
    const internals = this.stream as unknown as ZlibStreamInternals;
    if (typeof internals._handle?.writeSync !== "function" || !(internals._writeState instanceof Uint32Array)) {
      this.stream.close();
      throw new Error("this Node.js version has no synchronous zlib binding that regdav can call");
    }
    this.binding = internals._handle;
    this.state = internals._writeState;
    // Replaces the stream's handler, which would destroy the stream and report the error later, on the next tick.
    this.binding.onerror = (message) => {
      this.failure = String(message);
    };
  }

  /**
   * Runs inflate() once over `input` into `output` and returns what it left
   * of both. The window of history is kept between calls.
   */
  write(
    flush: number,
    input: Uint8Array,
    output: Uint8Array,
    outputOffset = 0,
    outputLength = output.length - outputOffset,
  ): InflateWriteResult {
    this.binding.writeSync(flush, input, 0, input.length, output, outputOffset, outputLength);
    if (this.failure !== undefined) throw new Error(this.failure);
    return { availableOutput: this.state[0]!, availableInput: this.state[1]! };
  }

  /** Starts the stream again, with the same dictionary, also after an error. */
  reset(): void {
    this.failure = undefined;
    this.stream.reset();
  }

  /** Frees zlib's state. The inflater cannot be used afterwards. */
  close(): void {
    this.stream.close();
  }
}

let usable: boolean | undefined;

/**
 * Tells whether NativeRawInflate works on this Node.js version. It inflates a
 * small stream of several blocks once, stopping at every block boundary,
 * and checks the output, so a changed binding turns into a slower pass with
 * pako rather than a failed or wrong one.
 */
export function isNativeInflateUsable(): boolean {
  usable ??= checkNativeInflate();
  return usable;
}

function checkNativeInflate(): boolean {
  const data = Buffer.alloc(96 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 27;
  // A full flush ends a block halfway, so the stream has at least two.
  const half = data.length / 2;
  const deflate = zlib.deflateRawSync(data.subarray(0, half), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  const compressed = Buffer.concat([deflate, zlib.deflateRawSync(data.subarray(half))]);
  try {
    const inflater = new NativeRawInflate();
    const output = Buffer.alloc(data.length + 1);
    let consumed = 0;
    let produced = 0;
    let stops = 0;
    while (consumed < compressed.length) {
      const input = compressed.subarray(consumed);
      const result = inflater.write(zlib.constants.Z_BLOCK, input, output, produced);
      const progress = input.length - result.availableInput + (output.length - produced - result.availableOutput);
      consumed += input.length - result.availableInput;
      produced = output.length - result.availableOutput;
      if (progress === 0) break;
      stops++;
    }
    inflater.close();
    return stops >= 2 && produced === data.length && output.subarray(0, produced).equals(data);
  } catch {
    return false;
  }
}
