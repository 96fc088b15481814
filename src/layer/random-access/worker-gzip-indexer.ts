import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

import { RegdavError } from "../../errors.js";
import { CheckpointRecorder } from "./checkpoint-recorder.js";
import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import {
  resolveGzipPassSettings,
  unfinishedIndexError,
  type GzipIndexerOptions,
} from "./gzip-indexer.js";
import {
  errorFromRecord,
  type FromWorkerMessage,
  type PassEvent,
  type ToWorkerMessage,
  type WorkerPassData,
} from "./worker-protocol.js";

/**
 * The compiled worker entry. It exists only in dist/, so code that runs
 * from the TypeScript sources (the unit tests) indexes on the main thread.
 */
const WORKER_URL = new URL("./gzip-index-worker.js", import.meta.url);

/**
 * Compressed bytes per input message. The worker releases a batch for reuse
 * when the pass requests the second batch after it. That is safe only while
 * a batch is larger than the 65535 bytes that a gzip header read can keep
 * across a batch boundary.
 */
export const INPUT_BATCH_SIZE = 512 * 1024;
/** Input messages posted and not yet taken by the worker, before writes wait. */
const MAX_INPUTS_IN_FLIGHT = 4;
/** Bytes of each output buffer, which the worker transfers when it is full. */
const OUTPUT_BUFFER_SIZE = 1024 * 1024;
/** Output messages the worker may send before the main thread passes one on. */
const MAX_OUTPUTS_IN_FLIGHT = 4;

/**
 * Indexing workers that may run at once: one per CPU but one, which stays
 * for the main thread's hashing, tar scan and requests, and at most two,
 * because each worker keeps its own V8 heap. On the bench's 2-core machine
 * a second worker raised the peak RSS of indexing a 5-layer image from
 * 187 MiB to 230 MiB; further passes run inline.
 */
export const MAX_INDEX_WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

let workerEntryExists: boolean | undefined;
let runningWorkers = 0;

/** Returns true when the compiled worker entry exists, so WorkerGzipIndexer can run. */
export function isIndexWorkerAvailable(): boolean {
  workerEntryExists ??= existsSync(fileURLToPath(WORKER_URL));
  return workerEntryExists;
}

/** Returns true when the worker entry exists and fewer than MAX_INDEX_WORKERS workers run. */
export function canStartIndexWorker(): boolean {
  return isIndexWorkerAvailable() && runningWorkers < MAX_INDEX_WORKERS;
}

/**
 * The pass of GzipCheckpointIndexer, with its inflater on a worker thread:
 * the same stream, output, index and errors. The main thread copies the
 * compressed bytes into batches for the worker, and replays the events
 * that the worker reports into a CheckpointRecorder, which computes the
 * CRC-32s and keeps the windows. The uncompressed buffers come back
 * transferred, not copied, and so do the batches once the worker no longer
 * reads them, to be filled again. Without that reuse, each batch would stay
 * allocated until the worker's next garbage collection. At most MAX_INPUTS_IN_FLIGHT
 * input and MAX_OUTPUTS_IN_FLIGHT output messages are queued, so memory
 * stays bounded when either side is slow.
 *
 * The worker is terminated when the stream ends, fails or is destroyed.
 * Throws RangeError for an invalid spacing, like GzipCheckpointIndexer.
 */
export class WorkerGzipIndexer {
  readonly stream: Duplex;
  /** Resolves once the worker thread has exited, whichever way the pass ended. */
  readonly exited: Promise<void>;
  private result: GzipCheckpointIndex | undefined;
  private readonly streamName: string;
  private readonly passStream: WorkerPassStream;

  constructor(options: GzipIndexerOptions = {}) {
    const settings = resolveGzipPassSettings(options, {
      outputBufferSize: OUTPUT_BUFFER_SIZE,
      wholeOutputBuffers: true,
    });
    this.streamName = settings.streamName;
    const workerData: WorkerPassData = { settings, maxOutputsInFlight: MAX_OUTPUTS_IN_FLIGHT };
    const worker = new Worker(WORKER_URL, { workerData });
    runningWorkers++;
    this.exited = new Promise((resolve) => {
      worker.once("exit", () => {
        runningWorkers--;
        resolve();
      });
    });
    const recorder = new CheckpointRecorder(settings.spacing, settings.streamName);
    this.passStream = new WorkerPassStream(worker, recorder, settings.streamName, (index) => {
      this.result = index;
    });
    this.stream = this.passStream;
  }

  /** Input batches allocated so far; the others were reused after the worker released them. */
  get allocatedInputBatches(): number {
    return this.passStream.allocatedBatches;
  }

  /** Input batches posted to the worker so far. */
  get postedInputBatches(): number {
    return this.passStream.postedBatches;
  }

  /** Returns the finished index. Throws when the stream has not ended successfully. */
  index(): GzipCheckpointIndex {
    if (!this.result) throw unfinishedIndexError(this.streamName);
    return this.result;
  }
}

/** The Duplex side of the worker: compressed bytes in, uncompressed bytes out. */
class WorkerPassStream extends Duplex {
  allocatedBatches = 0;
  postedBatches = 0;
  /** Batches that the worker has released, ready to be filled again. */
  private readonly freeBatches: ArrayBuffer[] = [];
  private batch = this.takeFreeBatch();
  private batchLength = 0;
  private inputsInFlight = 0;
  private waitingWrite: (() => void) | undefined;
  private unacknowledgedOutputs = 0;
  private finalCallback: ((error?: Error | null) => void) | undefined;
  private finished = false;
  /** Events not yet replayed because the output has not reached them. */
  private readonly events: PassEvent[] = [];
  /** Uncompressed bytes replayed into the recorder. */
  private replayed = 0;

  constructor(
    private readonly worker: Worker,
    private readonly recorder: CheckpointRecorder,
    private readonly streamName: string,
    private readonly onIndex: (index: GzipCheckpointIndex) => void,
  ) {
    super();
    worker.on("message", (message: FromWorkerMessage) => this.receive(message));
    worker.on("error", (error) => this.destroy(this.workerFailure(error.message, error)));
    worker.on("exit", (code) => {
      if (this.finished || this.destroyed) return;
      this.destroy(this.workerFailure(`it exited with code ${code} before the pass ended`));
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (let start = 0; start < chunk.length; ) {
      const length = Math.min(chunk.length - start, INPUT_BATCH_SIZE - this.batchLength);
      chunk.copy(this.batch, this.batchLength, start, start + length);
      this.batchLength += length;
      start += length;
      if (this.batchLength === INPUT_BATCH_SIZE) this.postBatch();
    }
    if (this.inputsInFlight < MAX_INPUTS_IN_FLIGHT) callback();
    else this.waitingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.postBatch();
    this.send({ type: "end" });
    this.finalCallback = callback;
  }

  override _read(): void {
    if (this.unacknowledgedOutputs === 0) return;
    this.send({ type: "read", count: this.unacknowledgedOutputs });
    this.unacknowledgedOutputs = 0;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.worker.terminate().then(
      () => callback(error),
      () => callback(error),
    );
  }

  private receive(message: FromWorkerMessage): void {
    if (this.destroyed) return;
    try {
      this.inputsInFlight -= message.consumed;
      this.freeBatches.push(...message.released);
      this.events.push(...message.events);
      this.replayDueEvents();
      this.handle(message);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    this.releaseWrite();
  }

  private handle(message: FromWorkerMessage): void {
    switch (message.type) {
      case "progress":
        break;
      case "output": {
        const chunk = Buffer.from(message.buffer, 0, message.length);
        this.replayOutput(chunk);
        if (this.push(chunk)) this.send({ type: "read", count: 1 });
        else this.unacknowledgedOutputs++;
        break;
      }
      case "end":
        this.finished = true;
        this.onIndex(this.recorder.build(message.compressedSize));
        this.push(null);
        this.finalCallback?.();
        void this.worker.terminate();
        break;
      case "error":
        throw errorFromRecord(message.error);
    }
  }

  /** Passes output to the recorder, stopping at each queued event's offset to replay it. */
  private replayOutput(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const next = this.events[0];
      const end = next ? Math.min(chunk.length, start + next.uncompressedOffset - this.replayed) : chunk.length;
      this.recorder.addOutput(chunk.subarray(start, end));
      this.replayed += end - start;
      start = end;
      this.replayDueEvents();
    }
  }

  /** Replays the queued events that happened at or before the output replayed so far. */
  private replayDueEvents(): void {
    while (this.events.length > 0 && this.events[0]!.uncompressedOffset <= this.replayed) {
      const event = this.events.shift()!;
      if (event.type === "startMember") this.recorder.startMember(event.compressedOffset);
      else if (event.type === "blockBoundary") this.recorder.atBlockBoundary(event.compressedBitOffset);
      else this.recorder.endMember(event.trailer, event.trailerOffset);
    }
  }

  private postBatch(): void {
    if (this.batchLength === 0) return;
    const buffer = this.batch.buffer as ArrayBuffer;
    this.send({ type: "input", buffer, length: this.batchLength }, [buffer]);
    this.inputsInFlight++;
    this.postedBatches++;
    this.batch = this.takeFreeBatch();
    this.batchLength = 0;
  }

  private takeFreeBatch(): Buffer {
    const released = this.freeBatches.pop();
    if (released) return Buffer.from(released);
    this.allocatedBatches++;
    return Buffer.allocUnsafeSlow(INPUT_BATCH_SIZE);
  }

  private releaseWrite(): void {
    if (this.inputsInFlight >= MAX_INPUTS_IN_FLIGHT) return;
    const callback = this.waitingWrite;
    this.waitingWrite = undefined;
    callback?.();
  }

  private send(message: ToWorkerMessage, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private workerFailure(reason: string, cause?: unknown): RegdavError {
    const message = `${this.streamName}: the gzip indexing worker failed: ${reason}`;
    return new RegdavError("INTERNAL", message, cause === undefined ? undefined : { cause });
  }
}
