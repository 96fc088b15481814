import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";

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
  }

  static async create(finalPath: string): Promise<AtomicFile> {
    await mkdir(dirname(finalPath), { recursive: true });
    const suffix = `${process.pid}.${randomBytes(4).toString("hex")}.partial`;
    return new AtomicFile(finalPath, `${finalPath}.${suffix}`);
  }

  /** Waits for every write to reach the file, then closes it. */
  async finish(): Promise<void> {
    if (this.stream.closed) return;
    await new Promise<void>((resolve, reject) => {
      this.stream.once("error", reject);
      this.stream.end(() => resolve());
    });
  }

  /** Flushes the file to disk and renames it to its final path. */
  async commit(): Promise<void> {
    await this.finish();
    const handle = await open(this.temporaryPath, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.temporaryPath, this.finalPath);
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.temporaryPath, { force: true });
  }
}

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
