import { Duplex } from "node:stream";
import type { MessagePort } from "node:worker_threads";

import { RegdavError } from "../../errors.js";
import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import {
  resolveGzipPassSettings,
  unfinishedIndexError,
  type GzipIndexerOptions,
} from "./gzip-indexer.js";
import { leaseIndexWorker, type WorkerLease } from "./index-worker-pool.js";
import {
  errorFromRecord,
  type FromWorkerMessage,
  type ToWorkerMessage,
  type WorkerPassData,
} from "./worker-protocol.js";

/**
 * Compressed bytes per input message. The worker releases a batch for reuse
 * when the pass requests the third batch after it. That is safe only while
 * a batch is larger than the 65535 bytes that ByteReader can keep across a
 * batch boundary (see gzip-index-worker.ts).
 */
export const INPUT_BATCH_SIZE = 512 * 1024;
/** Input messages posted and not yet taken by the worker, before writes wait. */
const MAX_INPUTS_IN_FLIGHT = 4;
/**
 * Bytes of each output buffer, which the worker transfers when it is full.
 * With 1 MiB, the peak RSS of listing the bench's 5-layer image was about
 * 10 MiB higher, at the same speed.
 */
const OUTPUT_BUFFER_SIZE = 256 * 1024;
/** Output messages the worker may send before the main thread passes one on. */
const MAX_OUTPUTS_IN_FLIGHT = 4;

/**
 * The pass of GzipCheckpointIndexer on an index worker (index-worker-pool.ts):
 * the same stream, output, index and errors. The worker inflates, records
 * the checkpoints, checks the CRC-32s and hashes the output, so the main
 * thread only copies the compressed bytes into batches and passes the
 * output on. The uncompressed buffers come back transferred, not copied,
 * and so do the batches once the worker no longer reads them, to be filled
 * again. Without that reuse, each batch would stay allocated until the
 * worker's next garbage collection. At most MAX_INPUTS_IN_FLIGHT input and
 * MAX_OUTPUTS_IN_FLIGHT output messages are queued, so memory stays bounded
 * when either side is slow.
 *
 * The pass leaves its worker when the stream ends, fails or is destroyed.
 * Throws RangeError for an invalid spacing, like GzipCheckpointIndexer.
 */
export class WorkerGzipIndexer {
  readonly stream: Duplex;
  private result: { index: GzipCheckpointIndex; outputDigest: string } | undefined;
  private readonly streamName: string;
  private readonly passStream: WorkerPassStream;

  constructor(options: GzipIndexerOptions = {}) {
    const settings = resolveGzipPassSettings(options, {
      outputBufferSize: OUTPUT_BUFFER_SIZE,
      wholeOutputBuffers: true,
    });
    this.streamName = settings.streamName;
    const data: WorkerPassData = { settings, maxOutputsInFlight: MAX_OUTPUTS_IN_FLIGHT };
    this.passStream = new WorkerPassStream(data, (index, outputDigest) => {
      this.result = { index, outputDigest };
    });
    this.stream = this.passStream;
  }

  /**
   * Resolves once the pass has left its worker, whichever way it ended, and
   * that worker has exited when no other pass used it.
   */
  get left(): Promise<void> {
    return this.passStream.left;
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
    return this.result.index;
  }

  /** Returns the `sha256:<hex>` of the whole output. Throws when the stream has not ended successfully. */
  outputDigest(): string {
    if (!this.result) throw unfinishedIndexError(this.streamName);
    return this.result.outputDigest;
  }
}

/** The Duplex side of a pass on a worker: compressed bytes in, uncompressed bytes out. */
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
  private readonly streamName: string;
  private readonly lease: WorkerLease;
  private readonly port: MessagePort;
  private leftWorker = false;
  private resolveLeft!: () => void;
  /** See WorkerGzipIndexer.left. */
  readonly left = new Promise<void>((resolve) => (this.resolveLeft = resolve));

  constructor(
    data: WorkerPassData,
    private readonly onEnd: (index: GzipCheckpointIndex, outputDigest: string) => void,
  ) {
    super();
    this.streamName = data.settings.streamName;
    this.lease = leaseIndexWorker(data, (reason, cause) => this.destroy(this.workerFailure(reason, cause)));
    this.port = this.lease.port;
    this.port.on("message", (message: FromWorkerMessage) => this.receive(message));
    this.port.once("close", () => {
      if (!this.leftWorker) this.destroy(this.workerFailure("the pass's channel closed before the pass ended"));
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
    this.leave();
    callback(error);
  }

  private receive(message: FromWorkerMessage): void {
    if (this.destroyed) return;
    try {
      this.inputsInFlight -= message.consumed;
      this.freeBatches.push(...message.released);
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
        if (this.push(chunk)) this.send({ type: "read", count: 1 });
        else this.unacknowledgedOutputs++;
        break;
      }
      case "end":
        this.onEnd(withBufferWindows(message.index), message.outputDigest);
        this.leave();
        this.push(null);
        this.finalCallback?.();
        break;
      case "error": {
        // Only the pass's own checks throw RandomAccessError, which names the
        // stream. Anything else is a fault of the worker's code.
        const { error } = message;
        if (error.kind === "other") throw this.workerFailure(`${error.name}: ${error.message}`);
        throw errorFromRecord(error);
      }
    }
  }

  /** Releases the worker lease once; the pass on the worker stops if it still runs. */
  private leave(): void {
    if (this.leftWorker) return;
    this.leftWorker = true;
    void this.lease.release().then(this.resolveLeft, this.resolveLeft);
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
    this.port.postMessage(message, transfer);
  }

  private workerFailure(reason: string, cause?: unknown): RegdavError {
    const message = `${this.streamName}: the gzip indexing worker failed: ${reason}`;
    return new RegdavError("INTERNAL", message, cause === undefined ? undefined : { cause });
  }
}

/** Turns the windows of an index that came through postMessage back into Buffers. */
function withBufferWindows(index: GzipCheckpointIndex): GzipCheckpointIndex {
  const checkpoints = index.checkpoints.map((checkpoint) => {
    const { buffer, byteOffset, byteLength } = checkpoint.window;
    return { ...checkpoint, window: Buffer.from(buffer, byteOffset, byteLength) };
  });
  return { ...index, checkpoints };
}
