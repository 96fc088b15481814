import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { signedSchema1Payload } from "../manifest/schema1.js";
import { mediaTypeOfManifest } from "../manifest/media-types.js";
import { computeDigest, isDigest, parseDigest } from "../reference/digest.js";
import { DigestMismatchError } from "../reference/digest-verifier.js";
import type { FetchedManifest } from "../source/image-source.js";
import { readBoundedBody } from "./body.js";
import { headerValue, type HttpResponse } from "./http.js";

/**
 * Reads and verifies a manifest response. The digest checked is the one
 * requested, else the registry's Docker-Content-Digest for a tag, else none,
 * in which case the digest is computed. For a signed schema 1 manifest the
 * digest covers the payload without signatures, as registries compute it.
 */
export interface ManifestRequest {
  registry: string;
  repository: string;
  /** A tag or a digest. */
  reference: string;
}

/**
 * Maximum manifest size: the 4 MiB that the distribution registry accepts on
 * push (`maxManifestBodySize` in its registry/handlers/manifests.go).
 */
export const maxManifestBytes = 4 * 1024 * 1024;

export async function readManifestResponse(
  response: HttpResponse,
  request: ManifestRequest,
): Promise<FetchedManifest> {
  const bytes = await readBoundedBody(response, maxManifestBytes, (size) =>
    tooLarge(request, size),
  );
  const expected = expectedDigest(response, request);
  const digest = verifyManifestDigest(bytes, expected, request.repository);
  const mediaType = mediaTypeOfManifest(bytes, headerValue(response.headers, "content-type"));
  return { digest, mediaType, bytes };
}

/** Returns the digest the bytes must have; undefined when neither request nor header gives one. */
function expectedDigest(response: HttpResponse, request: ManifestRequest): string | undefined {
  if (isDigest(request.reference)) return request.reference;

  const header = headerValue(response.headers, "docker-content-digest");
  if (header === undefined) return undefined;
  if (isDigest(header)) return header;
  log.warn("ignoring an invalid Docker-Content-Digest header", {
    registry: request.registry,
    repository: request.repository,
    reference: request.reference,
    header,
  });
  return undefined;
}

/**
 * Checks `bytes` against `expected` and returns the manifest's digest.
 * Throws DigestMismatchError naming both digests and the repository.
 */
export function verifyManifestDigest(
  bytes: Buffer,
  expected: string | undefined,
  repository: string,
): string {
  const payload = signedSchema1Payload(bytes);
  if (expected === undefined) return computeDigest(payload ?? bytes);

  const { algorithm } = parseDigest(expected);
  if (computeDigest(bytes, algorithm) === expected) return expected;
  const payloadDigest = payload ? computeDigest(payload, algorithm) : undefined;
  if (payloadDigest === expected) return expected;

  const actual = payloadDigest ?? computeDigest(bytes, algorithm);
  throw new DigestMismatchError("manifest", expected, actual, repository);
}

function tooLarge(request: ManifestRequest, size: string): RegdavError {
  const { registry, repository, reference } = request;
  return new RegdavError(
    "INVALID_MANIFEST",
    `manifest ${reference} of ${repository} on registry ${registry} is too large ` +
      `(${size}); the limit is ${maxManifestBytes} bytes`,
  );
}
