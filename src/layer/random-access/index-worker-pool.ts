import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";

import type { StartPassMessage, WorkerPassData } from "./worker-protocol.js";

/**
 * The compiled worker entry. It exists only in dist/, so code that runs
 * from the TypeScript sources (the unit tests) indexes on the main thread.
 */
const WORKER_URL = new URL("./gzip-index-worker.js", import.meta.url);

/**
 * Young generation of a worker's heap, in MiB. A worker's objects are few
 * and short-lived, and with V8's default the bench's 5-layer listing
 * peaked about 10 MiB higher, at the same speed.
 */
const WORKER_YOUNG_GENERATION_MB = 4;

/**
 * Index worker threads that may run at once: one per CPU but one, which
 * stays for the main thread's tar scan, blob hashing and requests, and at
 * most two, because each worker keeps its own V8 heap. Passes share the
 * workers, so a large layer never inflates on the main thread because a
 * worker is busy.
 */
export const MAX_INDEX_WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

/** One pass's hold on a worker. */
export interface WorkerLease {
  /** The pass's end of its channel to the worker. */
  readonly port: MessagePort;
  /**
   * Ends the lease: closes the port, which stops the pass on the worker if
   * it still runs, and ends the worker when no other pass uses it. Resolves
   * once that worker has exited, or at once when it keeps running.
   */
  release(): Promise<void>;
}

/** Called when the worker of a lease fails or exits while the lease is held. */
export type WorkerFailureListener = (reason: string, cause?: Error) => void;

interface PooledWorker {
  worker: Worker;
  /** Failure listeners of the leases held on this worker. */
  leases: Set<WorkerFailureListener>;
  exited: Promise<void>;
}

const workers = new Set<PooledWorker>();
let workerEntryExists: boolean | undefined;

/** Returns true when the compiled worker entry exists, so passes can run on index workers. */
export function isIndexWorkerAvailable(): boolean {
  workerEntryExists ??= existsSync(fileURLToPath(WORKER_URL));
  return workerEntryExists;
}

/** Index workers running now. */
export function runningIndexWorkers(): number {
  return workers.size;
}

/**
 * Starts a pass on the index worker with the fewest passes, or on a new
 * worker while fewer than MAX_INDEX_WORKERS run and each has a pass. The
 * caller talks to the pass over the lease's port, and `onFailure` learns
 * when the worker dies before the lease is released.
 */
export function leaseIndexWorker(data: WorkerPassData, onFailure: WorkerFailureListener): WorkerLease {
  const pooled = chooseWorker();
  const { port1, port2 } = new MessageChannel();
  const start: StartPassMessage = { type: "pass", port: port2, data };
  pooled.worker.postMessage(start, [port2]);
  pooled.leases.add(onFailure);

  let released: Promise<void> | undefined;
  const release = (): Promise<void> => {
    released ??= endLease(pooled, port1, onFailure);
    return released;
  };
  return { port: port1, release };
}

function chooseWorker(): PooledWorker {
  let least: PooledWorker | undefined;
  for (const pooled of workers) {
    if (least === undefined || pooled.leases.size < least.leases.size) least = pooled;
  }
  if (least === undefined || (least.leases.size > 0 && workers.size < MAX_INDEX_WORKERS)) {
    return startWorker();
  }
  return least;
}

function startWorker(): PooledWorker {
  const worker = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
  const leases = new Set<WorkerFailureListener>();
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const pooled: PooledWorker = { worker, leases, exited };
  workers.add(pooled);

  const fail = (reason: string, cause?: Error) => {
    workers.delete(pooled);
    for (const listener of [...leases]) listener(reason, cause);
    leases.clear();
  };
  worker.on("error", (error) => fail(error.message, error));
  worker.once("exit", (code) => {
    if (workers.has(pooled)) fail(`it exited with code ${code} before its passes ended`);
  });
  return pooled;
}

async function endLease(pooled: PooledWorker, port: MessagePort, onFailure: WorkerFailureListener): Promise<void> {
  port.close();
  if (!pooled.leases.delete(onFailure)) return;
  if (pooled.leases.size > 0) return;
  workers.delete(pooled);
  await pooled.worker.terminate();
  await pooled.exited;
}
