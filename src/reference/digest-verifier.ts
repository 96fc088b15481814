import type { Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

import { RegdavError } from "../errors.js";
import { createDigestHash } from "./digest.js";

/** Content whose hash differs from the digest it was requested by. */
export class DigestMismatchError extends RegdavError {
  constructor(
    readonly subject: string,
    readonly expected: string,
    readonly actual: string,
    readonly repository: string,
  ) {
    super(
      "DIGEST_MISMATCH",
      `digest mismatch for ${subject} ${expected} of ${repository}: ` +
        `the received content hashes to ${actual}`,
    );
    this.name = "DigestMismatchError";
  }
}

/**
 * Kind of size mismatch: more bytes than expected arrived (`overflow`), the
 * stream ended short (`short`), or the Content-Length disagreed (`declared`).
 */
export type SizeMismatchKind = "overflow" | "short" | "declared";

/** Content whose length differs from the size its descriptor declares. */
export class SizeMismatchError extends RegdavError {
  constructor(
    readonly subject: string,
    readonly digest: string,
    readonly repository: string,
    readonly expectedSize: number,
    /**
     * Bytes received, or the Content-Length for `declared`. For an overflow,
     * the count when reading stopped.
     */
    readonly actualSize: number,
    readonly kind: SizeMismatchKind,
  ) {
    super(
      "SIZE_MISMATCH",
      `size mismatch for ${subject} ${digest} of ${repository}: ` +
        `expected ${expectedSize} bytes, ${describeActualSize(expectedSize, actualSize, kind)}`,
    );
    this.name = "SizeMismatchError";
  }
}

function describeActualSize(expected: number, actual: number, kind: SizeMismatchKind): string {
  if (kind === "overflow") return `received more than ${expected}`;
  if (kind === "declared") return `the registry declared ${actual} (Content-Length)`;
  return `received ${actual}`;
}

export interface DigestVerifierOptions {
  /** Expected `algorithm:hex`. */
  digest: string;
  /** Expected length in bytes, when the descriptor gives one. */
  size?: number;
  /** Named in error messages. */
  repository: string;
  /** Kind of content, such as `manifest`, named in messages. Default: `blob`. */
  subject?: string;
}

/**
 * A pass-through stream that hashes what flows through it. It errors with
 * SizeMismatchError as soon as more bytes than `size` arrive, so an oversized
 * chunk is never passed on. At the end it errors with SizeMismatchError for a
 * short stream or DigestMismatchError for a wrong hash.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash;
  private received = 0;

  constructor(private readonly options: DigestVerifierOptions) {
    super();
    this.hash = createDigestHash(options.digest);
  }

  /** Bytes that passed through so far. */
  get bytesReceived(): number {
    return this.received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    const { size } = this.options;
    if (size !== undefined && this.received > size) {
      callback(this.sizeMismatch("overflow"));
      return;
    }

    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { size, digest } = this.options;
    if (size !== undefined && this.received !== size) {
      callback(this.sizeMismatch("short"));
      return;
    }

    const actual = `${digest.slice(0, digest.indexOf(":"))}:${this.hash.digest("hex")}`;
    if (actual !== digest) {
      callback(new DigestMismatchError(this.subject, digest, actual, this.options.repository));
      return;
    }
    callback();
  }

  private get subject(): string {
    return this.options.subject ?? "blob";
  }

  private sizeMismatch(kind: SizeMismatchKind): SizeMismatchError {
    const { digest, repository, size } = this.options;
    return new SizeMismatchError(this.subject, digest, repository, size!, this.received, kind);
  }
}

/** Creates a DigestVerifier. Throws BAD_REQUEST when `options.digest` is invalid. */
export function createDigestVerifier(options: DigestVerifierOptions): DigestVerifier {
  return new DigestVerifier(options);
}
