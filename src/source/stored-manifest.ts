import { RegdavError } from "../errors.js";
import { computeDigest, parseDigest } from "../reference/digest.js";
import { DigestMismatchError } from "../reference/digest-verifier.js";
import type { FetchedManifest } from "./image-source.js";
import { storedSizeMismatch } from "./layout-blobs.js";
import type { LayoutStorage } from "./layout-storage.js";

/** Max manifest size read into memory, the same as for manifests fetched from registries. */
export const maxManifestBytes = 4 * 1024 * 1024;

const schema1MediaType = "application/vnd.docker.distribution.manifest.v1+json";
const schema1SignedMediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws";
const ociManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
const ociIndexMediaType = "application/vnd.oci.image.index.v1+json";

/** The fields of the descriptor that points at a manifest, as far as the caller has one. */
export interface ManifestHint {
  digest: string;
  /** The descriptor's media type, used when the body has none. */
  mediaType?: string;
  size?: number;
  /** True when a descriptor points at this digest as a manifest, so a bad body is INVALID_MANIFEST rather than NOT_FOUND. */
  referenced: boolean;
}

/**
 * Reads a manifest stored as a file and checks it: its size against the
 * descriptor's, its bytes against the digest (DIGEST_MISMATCH), and that it
 * is a JSON object with a known kind.
 */
export async function readStoredManifest(
  storage: LayoutStorage,
  path: string,
  repository: string,
  hint: ManifestHint,
): Promise<FetchedManifest> {
  const bytes = await readManifestBytes(storage, path, hint);
  if (hint.size !== undefined && bytes.length !== hint.size) {
    throw storedSizeMismatch("manifest", hint.digest, repository, hint.size, bytes.length);
  }

  const actual = computeDigest(bytes, parseDigest(hint.digest).algorithm);
  if (actual !== hint.digest) {
    throw new DigestMismatchError("manifest", hint.digest, actual, repository);
  }

  const body = parseManifestBody(bytes);
  const mediaType = body && manifestMediaTypeOf(body, hint.mediaType);
  if (mediaType === undefined) throw notAManifest(storage, path, hint);
  return { digest: hint.digest, mediaType, bytes };
}

async function readManifestBytes(
  storage: LayoutStorage,
  path: string,
  hint: ManifestHint,
): Promise<Buffer> {
  const size = await storage.sizeOf(path);
  if (size !== undefined && size > maxManifestBytes && !hint.referenced) {
    throw notAManifest(storage, path, hint);
  }
  return storage.readFile(path, maxManifestBytes);
}

function parseManifestBody(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(bytes.toString("utf8"));
    return typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the media type of a manifest body: its `mediaType` field, the
 * Docker schema 1 type for `schemaVersion: 1`, the descriptor's type, or
 * else the kind its fields show (`manifests` for an index, `config` for an
 * image manifest). Returns undefined for JSON that is no manifest.
 */
export function manifestMediaTypeOf(
  body: Record<string, unknown>,
  descriptorType?: string,
): string | undefined {
  if (typeof body.mediaType === "string" && body.mediaType !== "") return body.mediaType;
  if (body.schemaVersion === 1) {
    return Array.isArray(body.signatures) ? schema1SignedMediaType : schema1MediaType;
  }
  if (descriptorType !== undefined) return descriptorType;
  if (Array.isArray(body.manifests)) return ociIndexMediaType;
  if (typeof body.config === "object" && body.config !== null) return ociManifestMediaType;
  return undefined;
}

function notAManifest(storage: LayoutStorage, path: string, hint: ManifestHint): RegdavError {
  if (hint.referenced) {
    return new RegdavError(
      "INVALID_MANIFEST",
      `manifest ${hint.digest} (${path} in ${storage.location}) is not a JSON manifest`,
    );
  }
  return new RegdavError(
    "NOT_FOUND",
    `no manifest ${hint.digest} in ${storage.location}: the blob is not a manifest`,
  );
}
