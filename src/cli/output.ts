import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Thrown when the reader of stdout went away, as `head` does after its
 * lines: the command stops writing and exits quietly.
 */
export class BrokenPipe extends Error {
  override readonly name = "BrokenPipe";
}

/**
 * A command's stdout. Writes wait for the stream to drain, so a slow reader
 * slows the command down instead of filling memory. `beforeWrite` runs before
 * each write, so that the progress line can erase itself from a shared terminal.
 */
export class Output {
  private failure: unknown;

  constructor(
    private readonly stream: Writable = process.stdout,
    private readonly beforeWrite: () => void = () => {},
  ) {
    // Write errors arrive as events. The first one is kept and fails the next write or flush().
    stream.on("error", (error: Error) => {
      this.failure ??= translate(error);
    });
  }

  /** Writes text or bytes. Rejects with BrokenPipe when the reader has gone. */
  async write(chunk: string | Uint8Array): Promise<void> {
    this.throwIfFailed();
    this.beforeWrite();
    if (!this.stream.write(chunk)) await this.drain();
  }

  /** Copies a stream to stdout at the reader's pace, and leaves stdout open. */
  async copyFrom(source: Readable): Promise<void> {
    this.throwIfFailed();
    this.beforeWrite();
    try {
      await pipeline(source, this.stream, { end: false });
    } catch (error) {
      throw this.failure ?? translate(error);
    }
  }

  /** Waits until everything written so far has been handed to the system. */
  async flush(): Promise<void> {
    this.throwIfFailed();
    await new Promise<void>((resolve, reject) => {
      this.stream.write("", (error) => (error ? reject(translate(error)) : resolve()));
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("error", done);
    });
    this.throwIfFailed();
  }
}

function translate(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EPIPE" ? new BrokenPipe("stdout was closed") : error;
}
