import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { AtomicFile } from "./atomic-file.js";
import type { CacheLayout } from "./cache-layout.js";
import { InFlight } from "./in-flight.js";

/** Opens a blob's raw bytes from wherever it comes from. */
export type BlobOpener = () => Promise<Readable>;

/**
 * Content-addressed blobs on disk. A blob is written under a temporary name,
 * checked against its digest and size, and only then renamed into place, so
 * the cache never holds bytes that failed verification.
 */
export class BlobStore {
  private readonly downloads = new InFlight<string>();

  constructor(private readonly layout: CacheLayout) {}

  /** Returns the path of the verified blob, downloading it first when needed. */
  async ensure(descriptor: BlobDescriptor, open: BlobOpener): Promise<string> {
    const path = this.layout.blob(descriptor.digest);
    if (await exists(path)) return path;

    return this.downloads.run(descriptor.digest, async () => {
      if (await exists(path)) return path;
      await this.download(descriptor, open, path);
      return path;
    });
  }

  /** Returns the cached blob's path, or undefined when it is not cached. */
  async cachedPath(digest: string): Promise<string | undefined> {
    const path = this.layout.blob(digest);
    return (await exists(path)) ? path : undefined;
  }

  private async download(descriptor: BlobDescriptor, open: BlobOpener, path: string) {
    const started = Date.now();
    const file = await AtomicFile.create(path);
    const verifier = new DigestVerifier(descriptor);
    try {
      await pipeline(await open(), verifier, file.stream);
      await file.commit();
    } catch (error) {
      await file.abort();
      throw error;
    }
    logTransfer("blob downloaded", descriptor.digest, verifier.bytes, started);
  }
}

/** Logs one info line for a long piece of work, with bytes, seconds and rate. */
export function logTransfer(message: string, digest: string, bytes: number, started: number) {
  const seconds = Math.max((Date.now() - started) / 1000, 0.001);
  log.info(message, {
    digest,
    bytes,
    seconds: seconds.toFixed(2),
    rate: `${(bytes / seconds / 1048576).toFixed(1)}MiB/s`,
  });
}

/**
 * Passes bytes through while hashing them, and fails the stream at its end,
 * or as soon as it grows past the expected size, when the content does not
 * match the descriptor.
 */
export class DigestVerifier extends Transform {
  bytes = 0;
  private readonly hash: Hash;
  private readonly algorithm: string;

  constructor(private readonly descriptor: BlobDescriptor) {
    super();
    this.algorithm = descriptor.digest.split(":")[0] ?? "";
    if (this.algorithm !== "sha256" && this.algorithm !== "sha512") {
      throw new RegdavError("BAD_REQUEST", `unsupported digest algorithm in ${descriptor.digest}`);
    }
    this.hash = createHash(this.algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.bytes += chunk.length;
    const expected = this.descriptor.size;
    if (expected !== undefined && this.bytes > expected) {
      callback(this.sizeError("more than"));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback) {
    const expected = this.descriptor.size;
    if (expected !== undefined && this.bytes !== expected) {
      callback(this.sizeError("only"));
      return;
    }
    const actual = `${this.algorithm}:${this.hash.digest("hex")}`;
    if (actual !== this.descriptor.digest) {
      const message = `blob ${this.descriptor.digest}: digest mismatch, content hashes to ${actual}`;
      callback(new RegdavError("DIGEST_MISMATCH", message));
      return;
    }
    callback();
  }

  private sizeError(comparison: "more than" | "only"): RegdavError {
    const { digest, size } = this.descriptor;
    const received = comparison === "only" ? `only ${this.bytes}` : `more than ${size}`;
    const message = `blob ${digest}: size mismatch, expected ${size} bytes, received ${received}`;
    return new RegdavError("SIZE_MISMATCH", message);
  }
}

/** Opens bytes `start` to `end` (inclusive) of a file. */
export function readFileRange(path: string, start: number, end: number): Readable {
  return createReadStream(path, { start, end });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
