// The worker thread of WorkerGzipIndexer: it inflates the compressed bytes
// that the main thread posts, with inflateGzipChunks, and posts back the
// uncompressed bytes and the pass events. The main thread computes the
// CRC-32s, keeps the windows and builds the index. The input buffers go back
// to the main thread for reuse once the pass no longer reads them. See
// worker-protocol.ts.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";

import type { GzipTrailer } from "./gzip-member.js";
import { inflateGzipChunks, type GzipPassEvents } from "./gzip-indexer.js";
import {
  recordError,
  type FromWorkerMessage,
  type PassEvent,
  type PassEventBody,
  type ToWorkerMessage,
  type WorkerMessageBody,
  type WorkerPassData,
} from "./worker-protocol.js";

/**
 * Collects the pass events to post. It passes on the block boundaries where
 * CheckpointRecorder records a checkpoint, by the same spacing rule, and
 * only counts the output.
 */
class EventCollector implements GzipPassEvents {
  uncompressedSize = 0;
  lastCheckpointOffset = 0;
  private pending: PassEvent[] = [];

  constructor(private readonly spacing: number) {}

  startMember(compressedOffset: number): void {
    this.lastCheckpointOffset = this.uncompressedSize;
    this.add({ type: "startMember", compressedOffset });
  }

  addOutput(chunk: Buffer): void {
    this.uncompressedSize += chunk.length;
  }

  atBlockBoundary(compressedBitOffset: number): void {
    if (this.uncompressedSize - this.lastCheckpointOffset < this.spacing) return;
    this.lastCheckpointOffset = this.uncompressedSize;
    this.add({ type: "blockBoundary", compressedBitOffset });
  }

  endMember(trailer: GzipTrailer, trailerOffset: number): void {
    this.add({ type: "endMember", trailer, trailerOffset });
  }

  /** Returns the events since the last call. */
  take(): PassEvent[] {
    const events = this.pending;
    this.pending = [];
    return events;
  }

  private add(event: PassEventBody): void {
    this.pending.push({ ...event, uncompressedOffset: this.uncompressedSize });
  }
}

/** The worker's side of one pass: its input queue, output credit and messages. */
class WorkerPass {
  private readonly chunks: Uint8Array[] = [];
  /** Input buffers handed to the pass, oldest first, and not yet released. */
  private readonly yielded: ArrayBuffer[] = [];
  /** Input buffers that the pass no longer reads, transferred back with the next message. */
  private released: ArrayBuffer[] = [];
  private inputEnded = false;
  private wakeInput: (() => void) | undefined;
  private unreportedInputs = 0;
  private outputsInFlight = 0;
  private wakeOutput: (() => void) | undefined;
  private readonly events: EventCollector;

  constructor(
    private readonly port: MessagePort,
    private readonly data: WorkerPassData,
  ) {
    this.events = new EventCollector(data.settings.spacing);
    port.on("message", (message: ToWorkerMessage) => this.receive(message));
  }

  async run(): Promise<void> {
    try {
      const pass = inflateGzipChunks(this.input(), this.data.settings, this.events);
      for (;;) {
        const next = await pass.next();
        if (next.done) {
          this.post({ type: "end", compressedSize: next.value });
          return;
        }
        await this.acquireOutputCredit();
        const { buffer, length } = transferable(next.value);
        this.post({ type: "output", buffer, length }, [buffer]);
      }
    } catch (error) {
      this.post({ type: "error", error: recordError(error) });
    }
  }

  private receive(message: ToWorkerMessage): void {
    if (message.type === "input") {
      this.chunks.push(new Uint8Array(message.buffer, 0, message.length));
      this.wakeInput?.();
    } else if (message.type === "end") {
      this.inputEnded = true;
      this.wakeInput?.();
    } else {
      this.outputsInFlight -= message.count;
      this.wakeOutput?.();
    }
  }

  /**
   * Yields the posted input. It reports what it took before it waits, so the
   * sender can go on. It releases each chunk when the pass requests the
   * second chunk after it.
   */
  private async *input(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk) {
        this.unreportedInputs++;
        this.yielded.push(chunk.buffer as ArrayBuffer);
        yield chunk;
        this.releaseAllButLatest();
      } else if (this.inputEnded) {
        return;
      } else {
        if (this.unreportedInputs > 0) this.post({ type: "progress" });
        await new Promise<void>((resolve) => (this.wakeInput = resolve));
      }
    }
  }

  /**
   * Releases the yielded chunks before the latest. ByteReader requests a
   * chunk only once it has handed out every byte it had. A readExact in
   * progress still keeps its parts, at most 65535 bytes (a gzip FEXTRA
   * field), so it may refer to the tail of the latest chunk. It cannot refer
   * to an older one, because every chunk but the last is a whole batch of
   * INPUT_BATCH_SIZE bytes, which is larger. A released buffer is detached
   * here when the next message transfers it.
   */
  private releaseAllButLatest(): void {
    while (this.yielded.length > 1) this.released.push(this.yielded.shift()!);
  }

  private async acquireOutputCredit(): Promise<void> {
    while (this.outputsInFlight >= this.data.maxOutputsInFlight) {
      await new Promise<void>((resolve) => (this.wakeOutput = resolve));
    }
    this.outputsInFlight++;
  }

  private post(body: WorkerMessageBody, transfer: ArrayBuffer[] = []): void {
    const events = this.events.take();
    const released = this.released;
    this.released = [];
    const message: FromWorkerMessage = { ...body, consumed: this.unreportedInputs, events, released };
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
await new WorkerPass(parentPort, workerData as WorkerPassData).run();
