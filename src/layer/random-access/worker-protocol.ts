// Messages between WorkerGzipIndexer and gzip-index-worker.ts. An index
// worker serves several passes at once, each over its own MessagePort, which
// the main thread transfers to it in a StartPassMessage. Every buffer travels
// as a transferred ArrayBuffer with the length of its data.
import type { MessagePort } from "node:worker_threads";

import type { ErrorCode } from "../../errors.js";
import type { GzipCheckpointIndex } from "./gzip-checkpoint-index.js";
import type { GzipPassSettings } from "./gzip-indexer.js";
import { RandomAccessError } from "./random-access-errors.js";

/** The settings of one pass on an index worker. */
export interface WorkerPassData {
  settings: GzipPassSettings;
  /** Output messages the worker may send before the main thread acknowledges one. */
  maxOutputsInFlight: number;
}

/** Posted to the worker itself: start a pass that talks over `port`. */
export interface StartPassMessage {
  type: "pass";
  port: MessagePort;
  data: WorkerPassData;
}

/** A message to a pass on the worker. When the main thread closes the port, the pass stops. */
export type ToWorkerMessage =
  /** Compressed bytes [0, length) of `buffer`, the next part of the blob. */
  | { type: "input"; buffer: ArrayBuffer; length: number }
  /** The blob has no more bytes. */
  | { type: "end" }
  /** The main thread has passed on `count` more output messages. */
  | { type: "read"; count: number };

/** The body of a message of a pass. FromWorkerMessage adds the fields that every message has. */
export type WorkerMessageBody =
  /** Only the common fields: the pass waits for input. */
  | { type: "progress" }
  /** Uncompressed bytes [0, length) of `buffer`, the next part of the output. */
  | { type: "output"; buffer: ArrayBuffer; length: number }
  /**
   * The pass ended successfully. The index's windows arrive as Uint8Array,
   * because structured cloning does not keep the Buffer class.
   * `outputDigest` is the `sha256:<hex>` of all the output.
   */
  | { type: "end"; index: GzipCheckpointIndex; outputDigest: string }
  /** The pass failed. */
  | { type: "error"; error: WorkerErrorRecord };

/**
 * A message of a pass. `consumed` counts the input messages it has taken off
 * its queue since its last message. `released` returns, transferred, the
 * input buffers that the pass no longer reads, so the main thread can fill
 * them again.
 */
export type FromWorkerMessage = WorkerMessageBody & {
  consumed: number;
  released: ArrayBuffer[];
};

/**
 * A thrown error as plain data. A RandomAccessError keeps its code and
 * positions, so the main thread can throw an equal one.
 */
export type WorkerErrorRecord =
  | {
      kind: "random-access";
      code: ErrorCode;
      message: string;
      compressedOffset: number | undefined;
      uncompressedOffset: number | undefined;
      /** Message of the error's cause, such as pako's, when it has one. */
      causeMessage: string | undefined;
    }
  | { kind: "other"; name: string; message: string };

/** Describes a thrown value as plain data that postMessage can clone. */
export function recordError(error: unknown): WorkerErrorRecord {
  if (error instanceof RandomAccessError) {
    const cause = error.cause;
    return {
      kind: "random-access",
      code: error.code,
      message: error.message,
      compressedOffset: error.compressedOffset,
      uncompressedOffset: error.uncompressedOffset,
      causeMessage: cause === undefined ? undefined : errorMessage(cause),
    };
  }
  const name = error instanceof Error ? error.name : "Error";
  return { kind: "other", name, message: errorMessage(error) };
}

/** Creates an error equal to the recorded one: same class, code, message and positions. */
export function errorFromRecord(record: WorkerErrorRecord): Error {
  if (record.kind === "other") {
    const error = new Error(record.message);
    error.name = record.name;
    return error;
  }
  const { compressedOffset, uncompressedOffset, causeMessage } = record;
  const position = { compressedOffset, uncompressedOffset };
  const cause = causeMessage === undefined ? undefined : new Error(causeMessage);
  return new RandomAccessError(record.code, record.message, position, cause);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
