// The entry of an index worker thread, which index-worker-pool.ts starts. It runs
// whole gzip passes: for each StartPassMessage it inflates the compressed
// bytes that arrive on the pass's port, records the checkpoints with a
// CheckpointRecorder, which also checks every member's CRC-32, hashes the
// output, and posts the uncompressed bytes back. Passes share the thread and
// take turns between messages. The input buffers go back to the main thread
// for reuse once the pass no longer reads them. See worker-protocol.ts.
import { createHash } from "node:crypto";
import { parentPort, type MessagePort } from "node:worker_threads";

import { CheckpointRecorder } from "./checkpoint-recorder.js";
import { inflateGzipChunks } from "./gzip-indexer.js";
import {
  recordError,
  type FromWorkerMessage,
  type StartPassMessage,
  type ToWorkerMessage,
  type WorkerMessageBody,
  type WorkerPassData,
} from "./worker-protocol.js";

/** Thrown inside a pass whose port the main thread closed; nothing is posted for it. */
class PassClosed extends Error {}

/** The worker's side of one pass: its input queue, output credit and messages. */
class WorkerPass {
  private readonly chunks: Uint8Array[] = [];
  /** Input buffers handed to the pass, oldest first, and not yet released. */
  private readonly yielded: ArrayBuffer[] = [];
  /** Input buffers that the pass no longer reads, transferred back with the next message. */
  private released: ArrayBuffer[] = [];
  private inputEnded = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private unreportedInputs = 0;
  private outputsInFlight = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly data: WorkerPassData,
  ) {
    port.on("message", (message: ToWorkerMessage) => this.receive(message));
    port.once("close", () => {
      this.closed = true;
      this.chunks.length = 0;
      this.wakeUp();
    });
  }

  async run(): Promise<void> {
    const { settings } = this.data;
    const recorder = new CheckpointRecorder(settings.spacing, settings.streamName, { copyOutput: true });
    const hash = createHash("sha256");
    try {
      const pass = inflateGzipChunks(this.input(), settings, recorder);
      for (;;) {
        const next = await pass.next();
        if (next.done) {
          const index = recorder.build(next.value);
          this.post({ type: "end", index, outputDigest: `sha256:${hash.digest("hex")}` });
          return;
        }
        hash.update(next.value);
        await this.acquireOutputCredit();
        const { buffer, length } = transferable(next.value);
        this.post({ type: "output", buffer, length }, [buffer]);
      }
    } catch (error) {
      if (!(error instanceof PassClosed)) this.post({ type: "error", error: recordError(error) });
    }
    // The main thread closes the port once it has taken the last message, so
    // a close from here cannot overtake that message.
  }

  private receive(message: ToWorkerMessage): void {
    if (message.type === "input") {
      this.chunks.push(new Uint8Array(message.buffer, 0, message.length));
    } else if (message.type === "end") {
      this.inputEnded = true;
    } else {
      this.outputsInFlight -= message.count;
    }
    this.wakeUp();
  }

  /**
   * Yields the posted input. It reports what it took before it waits, so the
   * sender can go on. It releases each chunk when the pass requests the
   * third chunk after it.
   */
  private async *input(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.closed) throw new PassClosed();
      const chunk = this.chunks.shift();
      if (chunk) {
        this.unreportedInputs++;
        this.yielded.push(chunk.buffer as ArrayBuffer);
        yield chunk;
        this.releaseAllButLatestTwo();
      } else if (this.inputEnded) {
        return;
      } else {
        if (this.unreportedInputs > 0) this.post({ type: "progress" });
        await this.nextMessage();
      }
    }
  }

  /**
   * Releases the yielded chunks before the latest two. ByteReader keeps
   * less than 64 KiB of earlier chunks while it requests another: a
   * readExact in progress (at most 65535 bytes, a gzip FEXTRA field), or
   * what readAtLeast joins to the native inflater's minimum input. Every
   * chunk but the last is a whole batch of INPUT_BATCH_SIZE bytes, which is
   * larger, so those bytes lie in the latest two chunks. The latest one
   * alone is not enough: after a batch with a short tail comes a last batch
   * shorter than 64 KiB, and readAtLeast requests the end of the input
   * while it still keeps that tail. A released buffer is detached here when
   * the next message transfers it.
   */
  private releaseAllButLatestTwo(): void {
    while (this.yielded.length > 2) this.released.push(this.yielded.shift()!);
  }

  private async acquireOutputCredit(): Promise<void> {
    while (this.outputsInFlight >= this.data.maxOutputsInFlight) {
      if (this.closed) throw new PassClosed();
      await this.nextMessage();
    }
    if (this.closed) throw new PassClosed();
    this.outputsInFlight++;
  }

  private nextMessage(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private post(body: WorkerMessageBody, transfer: ArrayBuffer[] = []): void {
    if (this.closed) return;
    const released = this.released;
    this.released = [];
    const message: FromWorkerMessage = { ...body, consumed: this.unreportedInputs, released };
    this.unreportedInputs = 0;
    this.port.postMessage(message, [...transfer, ...released]);
  }
}

/**
 * Returns the ArrayBuffer to transfer for `chunk`: its own when the chunk
 * starts it (whole output buffers always do), else a copy.
 */
function transferable(chunk: Buffer): { buffer: ArrayBuffer; length: number } {
  const owned = chunk.byteOffset === 0 && chunk.buffer instanceof ArrayBuffer;
  const buffer = owned ? (chunk.buffer as ArrayBuffer) : new Uint8Array(chunk).buffer;
  return { buffer, length: chunk.length };
}

if (!parentPort) throw new Error("gzip-index-worker.js runs only as a worker thread");
parentPort.on("message", (message: StartPassMessage) => {
  void new WorkerPass(message.port, message.data).run();
});
