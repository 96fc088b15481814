import { pipeline, type Readable } from "node:stream";

import { parseDigest } from "../reference/digest.js";
import { createDigestVerifier, SizeMismatchError } from "../reference/digest-verifier.js";
import type { BlobDescriptor } from "./image-source.js";
import { missingFile, type LayoutStorage } from "./layout-storage.js";

/**
 * Returns the path of a blob in an OCI image layout, `blobs/<algorithm>/<hex>`.
 * The digest is parsed first, which admits only a known algorithm and hex of
 * its exact length, so a requested digest can never name a path such as
 * `../../etc/passwd` outside the layout. Throws BAD_REQUEST for an invalid digest.
 */
export function blobPathOf(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

/** Returns the size of a stored blob. Throws NOT_FOUND naming the blob's path when it is missing. */
export async function statStoredBlob(storage: LayoutStorage, path: string): Promise<number> {
  const size = await storage.sizeOf(path);
  if (size === undefined) throw missingFile(storage, path);
  return size;
}

/** Creates the SIZE_MISMATCH error for a stored file whose size differs from its descriptor's. */
export function storedSizeMismatch(
  subject: string,
  digest: string,
  repository: string,
  expectedSize: number,
  storedSize: number,
): SizeMismatchError {
  const kind = storedSize > expectedSize ? "overflow" : "short";
  return new SizeMismatchError(subject, digest, repository, expectedSize, storedSize, kind);
}

/**
 * Streams a stored blob through a digest check, so the stream errors at the
 * end with DIGEST_MISMATCH when the bytes do not hash to the descriptor's
 * digest. A stored size that differs from the descriptor's is rejected at once.
 */
export async function openVerifiedBlob(
  storage: LayoutStorage,
  path: string,
  repository: string,
  descriptor: BlobDescriptor,
): Promise<Readable> {
  const size = await statStoredBlob(storage, path);
  if (descriptor.size !== undefined && descriptor.size !== size) {
    throw storedSizeMismatch("blob", descriptor.digest, repository, descriptor.size, size);
  }

  const verifier = createDigestVerifier({ digest: descriptor.digest, size, repository });
  const content = await storage.openFile(path);
  // pipeline destroys `verifier` with any read error, so the caller sees it on the stream it reads.
  return pipeline(content, verifier, () => {});
}
