import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { createDigestVerifier } from "../reference/digest-verifier.js";
import { log } from "../log.js";
import type { BlobDescriptor } from "../source/image-source.js";
import { AtomicFile } from "./atomic-file.js";
import type { CacheBudget } from "./cache-budget.js";
import type { CacheLayout } from "./cache-layout.js";
import { InFlight } from "./in-flight.js";

/** Opens a blob's raw bytes from wherever it comes from. */
export type BlobOpener = () => Promise<Readable>;

/**
 * Content-addressed blobs on disk. A blob is written under a temporary name,
 * checked against its digest and size, and only then renamed into place, so
 * the cache never contains bytes that failed verification.
 */
export class BlobStore {
  private readonly downloads = new InFlight<string>();
  /** Running tasks that store a blob themselves, such as a layer pass, by digest. */
  private readonly writers = new Map<string, Promise<unknown>>();

  constructor(
    private readonly layout: CacheLayout,
    /** Tracks what the cache holds on disk; undefined when the cache has no size limit. */
    readonly budget?: CacheBudget,
  ) {}

  /**
   * Returns the path of the verified blob, downloading it first when needed.
   * `repository` is named in errors.
   */
  async ensure(descriptor: BlobDescriptor, open: BlobOpener, repository: string): Promise<string> {
    const path = this.layout.blob(descriptor.digest);
    if (await exists(path)) {
      this.budget?.touched(path);
      return path;
    }

    // A running layer pass stores this blob too, so its download is awaited
    // instead of repeated. When it fails, this call downloads the blob itself.
    let writer = this.writers.get(descriptor.digest);
    while (writer !== undefined) {
      await writer.catch(() => undefined);
      if (await exists(path)) return path;
      writer = this.writers.get(descriptor.digest);
    }

    return this.downloads.run(descriptor.digest, async () => {
      if (await exists(path)) return path;
      await this.download(descriptor, open, path, repository);
      return path;
    });
  }

  /**
   * Runs `write`, a task that downloads the blob and stores it at its cache
   * path itself, as the blob's one download: ensure() calls made meanwhile
   * wait for it. When a download of the blob is already running, waits for
   * that one instead and returns undefined without running `write`.
   */
  async downloadWith<T>(digest: string, write: () => Promise<T>): Promise<{ value: T } | undefined> {
    const running = this.downloads.get(digest) ?? this.writers.get(digest);
    if (running !== undefined) {
      await running.catch(() => undefined);
      return undefined;
    }

    const task = write();
    this.writers.set(digest, task);
    try {
      return { value: await task };
    } finally {
      if (this.writers.get(digest) === task) this.writers.delete(digest);
    }
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
      await this.budget?.added(path, verifier.bytesReceived);
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
