import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";

import { nextWritableEvent } from "../writable-events.js";

/**
 * A file written under a temporary name beside its final path and renamed
 * into place only by `commit`, after the caller has verified the content. A
 * crash or an `abort` leaves no file at the final path, so a reader never
 * takes a partial file for a complete one.
 */
export class AtomicFile {
  readonly stream: WriteStream;
  private readonly temporaryPath: string;

  private constructor(
    readonly finalPath: string,
    temporaryPath: string,
  ) {
    this.temporaryPath = temporaryPath;
    this.stream = createWriteStream(temporaryPath, { flags: "wx" });
    // Writers see errors through their own listeners, and finish() through
    // `errored`. Without this listener, a write still in flight when abort()
    // destroys the stream fails afterwards as an uncaught exception.
    this.stream.on("error", ignoreError);
  }

  static async create(finalPath: string): Promise<AtomicFile> {
    await mkdir(dirname(finalPath), { recursive: true });
    return new AtomicFile(finalPath, temporaryPathFor(finalPath));
  }

  /** Waits for every write to reach the file, then closes it. */
  async finish(): Promise<void> {
    // A write that failed, such as on a full disk, must never let a short file be committed.
    if (this.stream.errored) throw this.stream.errored;
    if (this.stream.closed) return;
    await new Promise<void>((resolve, reject) => {
      this.stream.once("error", reject);
      this.stream.end(() => resolve());
    });
  }

  /**
   * Flushes the file to disk and renames it to its final path. With `flush`
   * false it only renames, for files that a reader checks and that can be
   * made again. Skipping the flush matters while passes write blobs, because
   * on ext4 one flush can wait for other files' data too.
   */
  async commit(flush = true): Promise<void> {
    await this.finish();
    if (flush) {
      const handle = await open(this.temporaryPath, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await rename(this.temporaryPath, this.finalPath);
  }

  /** Closes and deletes the temporary file. */
  async abort(): Promise<void> {
    // Waits for the close, so that a file still being opened is not created after the delete.
    if (!this.stream.closed) {
      const closed = new Promise<void>((resolve) => this.stream.once("close", () => resolve()));
      this.stream.destroy();
      await closed;
    }
    await rm(this.temporaryPath, { force: true });
  }
}

/**
 * Returns a temporary name beside `finalPath`: `<final>.<pid>.<8 hex>.partial`.
 * The process id lets a later start tell a dead writer's leftovers from the
 * files of a regdav process that is still running (stale-partials.ts).
 */
export function temporaryPathFor(finalPath: string): string {
  return `${finalPath}.${process.pid}.${randomBytes(4).toString("hex")}${PARTIAL_SUFFIX}`;
}

export const PARTIAL_SUFFIX = ".partial";

/** Writes a whole buffer atomically. */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const file = await AtomicFile.create(path);
  try {
    file.stream.write(data);
    await file.commit();
  } catch (error) {
    await file.abort();
    throw error;
  }
}

/**
 * Writes the pieces in order into a new file atomically, waiting for the
 * file to drain when it buffers more than its high-water mark. See
 * AtomicFile.commit for `flush`.
 */
export async function writePiecesAtomic(
  path: string,
  pieces: Iterable<string | Buffer>,
  options: { flush?: boolean } = {},
): Promise<void> {
  const file = await AtomicFile.create(path);
  try {
    for (const piece of pieces) {
      if (file.stream.write(piece)) continue;
      await nextWritableEvent(file.stream, "drain", () => closedError(file.stream));
    }
    await file.commit(options.flush ?? true);
  } catch (error) {
    await file.abort();
    throw error;
  }
}

function closedError(stream: WriteStream): Error {
  return new Error(`${stream.path.toString()}: the file closed before the write ended`);
}

function ignoreError(): void {}
