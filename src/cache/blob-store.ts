import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { createDigestVerifier } from "../reference/digest-verifier.js";
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

  /**
   * Returns the path of the verified blob, downloading it first when needed.
   * `repository` is named in errors.
   */
  async ensure(descriptor: BlobDescriptor, open: BlobOpener, repository: string): Promise<string> {
    const path = this.layout.blob(descriptor.digest);
    if (await exists(path)) return path;

    return this.downloads.run(descriptor.digest, async () => {
      if (await exists(path)) return path;
      await this.download(descriptor, open, path, repository);
      return path;
    });
  }

  /** Returns the cached blob's path, or undefined when it is not cached. */
  async cachedPath(digest: string): Promise<string | undefined> {
    const path = this.layout.blob(digest);
    return (await exists(path)) ? path : undefined;
  }

  private async download(descriptor: BlobDescriptor, open: BlobOpener, path: string, repository: string) {
    const started = Date.now();
    const file = await AtomicFile.create(path);
    const verifier = createDigestVerifier({ ...descriptor, repository });
    try {
      await pipeline(await open(), verifier, file.stream);
      await file.commit();
    } catch (error) {
      await file.abort();
      throw error;
    }
    logTransfer("blob downloaded", descriptor.digest, verifier.bytesReceived, started);
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
