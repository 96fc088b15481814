import { createHash, type Hash } from "node:crypto";
import { Writable } from "node:stream";

import { nextWritableEvent } from "../writable-events.js";
import { invalidLayerError } from "./layer-errors.js";
import type { TarScanner } from "./tar-scanner.js";

export interface IndexingSinkOptions {
  /** Digest of the layer blob, for error messages. */
  digest: string;
  /** Bytes of uncompressed tar after which the pass fails. */
  maxUncompressedSize: number;
  /** Receives a copy of the uncompressed tar. */
  copy?: Writable | undefined;
  /** Whether to hash the tar for the diff ID; false when the decompressor already does. */
  hash: boolean;
  /** The receiver of the scanner's entries, which the sink waits for after each chunk. */
  entries?: { drained(): Promise<void> } | undefined;
}

/**
 * The end of the layer pipeline. It hashes the uncompressed tar for the diff
 * ID, unless the decompressor does, counts it against the size limit and
 * feeds it to the tar scanner. It also copies it to an optional writable,
 * and waits for that writable and the entries' receiver to drain, so memory
 * stays bounded.
 */
export class IndexingSink extends Writable {
  private readonly hash: Hash | undefined;
  private readonly digest: string;
  private readonly maxUncompressedSize: number;
  private readonly copy: Writable | undefined;
  private readonly entries: IndexingSinkOptions["entries"];
  private size = 0;

  constructor(
    private readonly scanner: TarScanner,
    options: IndexingSinkOptions,
  ) {
    super();
    this.digest = options.digest;
    this.maxUncompressedSize = options.maxUncompressedSize;
    this.copy = options.copy;
    this.entries = options.entries;
    this.hash = options.hash ? createHash("sha256") : undefined;
  }

  /** Bytes of the uncompressed stream so far. */
  get uncompressedSize(): number {
    return this.size;
  }

  /**
   * Returns the diff ID (`sha256:<hex>`); call it once, after the stream
   * finished. Throws for a sink made with `hash: false`.
   */
  diffId(): string {
    if (!this.hash) throw new Error(`layer ${this.digest}: diffId() called on a sink made with hash: false`);
    return `sha256:${this.hash.digest("hex")}`;
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ) {
    try {
      this.consume(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (!this.copy && !this.entries) return callback();
    const copied = this.copy ? writeWithBackpressure(this.copy, chunk) : Promise.resolve();
    Promise.all([copied, this.entries?.drained()]).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void) {
    try {
      this.scanner.end();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private consume(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxUncompressedSize) {
      const limit = this.maxUncompressedSize;
      const problem = `uncompressed size exceeds the maxUncompressedSize limit of ${limit} bytes`;
      throw invalidLayerError(this.digest, problem);
    }
    this.hash?.update(chunk);
    this.scanner.write(chunk);
  }
}

/** Writes a chunk and resolves when the writable can take more, or rejects when it fails. */
export function writeWithBackpressure(stream: Writable, chunk: Buffer): Promise<void> {
  if (stream.destroyed) return Promise.reject(closedError());
  if (stream.write(chunk)) return Promise.resolve();
  return nextWritableEvent(stream, "drain", closedError);
}

/** Ends a writable and resolves once everything written has been flushed. */
export function endWritable(stream: Writable): Promise<void> {
  if (stream.writableFinished) return Promise.resolve();
  const finished = nextWritableEvent(stream, "finish", closedError);
  stream.end();
  return finished;
}

function closedError(): Error {
  return new Error("a file that the layer pass writes closed before the pass ended");
}
