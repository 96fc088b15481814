import { createHash, type Hash } from "node:crypto";

import { RegdavError } from "../errors.js";

/**
 * Content digests in the OCI form `algorithm:hex`. Only the algorithms that
 * regdav can verify are accepted, with lowercase hex of the exact length.
 */
export type DigestAlgorithm = "sha256" | "sha512";

const hexLengthByAlgorithm: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex of the hash. */
  hex: string;
}

const digestPattern = /^([a-z0-9]+)[:/]([0-9a-f]+)$/;

/**
 * Parses `sha256:<64 hex>` or `sha512:<128 hex>`. Throws RegdavError
 * BAD_REQUEST naming the value for anything else.
 */
export function parseDigest(text: string): ParsedDigest {
  return parseWithSeparator(text, ":");
}

/** Parses the path form `sha256/<hex>` used in folder names, as well as `sha256:<hex>`. */
export function parseDigestPath(text: string): ParsedDigest {
  return parseWithSeparator(text, text.includes("/") ? "/" : ":");
}

function parseWithSeparator(text: string, separator: ":" | "/"): ParsedDigest {
  const match = digestPattern.exec(text);
  if (!match || text[match[1]!.length] !== separator) {
    throw invalidDigest(
      text,
      `expected algorithm${separator}hex such as sha256${separator}<64 hex>`,
    );
  }

  const algorithm = match[1]!;
  const hex = match[2]!;
  if (!isDigestAlgorithm(algorithm)) {
    throw invalidDigest(text, `unsupported algorithm ${algorithm}, expected sha256 or sha512`);
  }

  const expectedLength = hexLengthByAlgorithm[algorithm];
  if (hex.length !== expectedLength) {
    throw invalidDigest(text, `${algorithm} needs ${expectedLength} hex digits, got ${hex.length}`);
  }
  return { algorithm, hex };
}

/** Returns the digest unchanged when it is valid, and throws BAD_REQUEST otherwise. */
export function validateDigest(text: string): string {
  parseDigest(text);
  return text;
}

export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

/** Converts `sha256/<hex>` (or an already canonical `sha256:<hex>`) to `sha256:<hex>`. */
export function digestFromPath(text: string): string {
  const { algorithm, hex } = parseDigestPath(text);
  return `${algorithm}:${hex}`;
}

/** Converts `sha256:<hex>` to the path form `sha256/<hex>`. */
export function digestToPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}/${hex}`;
}

/** Hashes `bytes` and returns the digest as `algorithm:hex`. */
export function computeDigest(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** Starts an incremental hash for the algorithm of `digest`. */
export function createDigestHash(digest: string): Hash {
  return createHash(parseDigest(digest).algorithm);
}

function isDigestAlgorithm(text: string): text is DigestAlgorithm {
  return Object.hasOwn(hexLengthByAlgorithm, text);
}

function invalidDigest(text: string, reason: string): RegdavError {
  return new RegdavError("BAD_REQUEST", `invalid digest ${JSON.stringify(text)}: ${reason}`);
}

/** Returns the `sha256:<hex>` digest of `bytes`. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
