import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import { manifestMediaTypes } from "../manifest/media-types.js";
import { isDigest, validateDigest } from "../reference/digest.js";
import {
  createDigestVerifier,
  SizeMismatchError,
  type DigestVerifier,
} from "../reference/digest-verifier.js";
import { isValidRepository, isValidTag } from "../reference/grammar.js";
import type {
  BlobRangeReader,
  BlobSizeLookup,
  BlobDescriptor,
  FetchedManifest,
  ImageSource,
  ReferrersLister,
  RepositoryLister,
} from "../source/image-source.js";
import type { CredentialStore } from "./credentials.js";
import { displayUrl, headerValue, transportError, type HttpClientOptions } from "./http.js";
import { rangeBody } from "./blob-range.js";
import { listAllPages } from "./listing.js";
import { readManifestResponse } from "./manifest-fetch.js";
import { fetchReferrers } from "./referrers.js";
import { RegistryClient, type RegistryRequest } from "./registry-client.js";
import { resumableBlob } from "./resumable-blob.js";
import type { RetryPolicy } from "./retry.js";

/**
 * An image source backed by a registry's OCI distribution API. Every method
 * validates its names before any request, so an invalid repository, tag or
 * digest is a BAD_REQUEST and never reaches the registry.
 *
 * NOTE: Docker Hub has no catalog, so listRepositories fails there with the
 * registry's 401, although canListRepositories reports the method.
 */
export interface RegistrySourceOptions {
  /** Registry name as shown, such as `127.0.0.1:5000` or `docker.io`. */
  name: string;
  /** Allows plain HTTP and skips TLS verification. */
  insecure?: boolean;
  /** `https:` or `http:` to reach the registry only that way, as for a mirror given by URL. */
  protocol?: "https:" | "http:";
  credentials?: CredentialStore;
  http?: HttpClientOptions;
  /** Entries requested per page of the catalog and tag lists (`n`); default and maximum 1000. */
  pageSize?: number;
  /** Retries of manifest, tag, catalog and token requests after 429 and 5xx. */
  retry?: Partial<RetryPolicy>;
  /** Clock in milliseconds for token expiry, replaceable in tests. */
  now?: () => number;
}

/**
 * The largest page size requested. Distribution 2.8 rejects a catalog
 * request with a larger `n` with 400 PAGINATION_NUMBER_INVALID.
 */
const maxPageSize = 1000;

/** Headers of a manifest fetched with HEAD: its digest, media type and size. */
export interface ManifestHead {
  /** The registry's Docker-Content-Digest, when sent. */
  digest?: string;
  mediaType?: string;
  /** Bytes, from Content-Length. */
  size?: number;
}

export class RegistrySource
  implements ImageSource, RepositoryLister, BlobSizeLookup, ReferrersLister, BlobRangeReader
{
  readonly name: string;
  private readonly client: RegistryClient;
  private readonly pageSize: number;

  constructor(options: RegistrySourceOptions) {
    this.name = options.name;
    this.client = new RegistryClient(options);
    this.pageSize = Math.min(maxPageSize, Math.max(1, options.pageSize ?? maxPageSize));
  }

  async listRepositories(): Promise<string[]> {
    const first = `/v2/_catalog?n=${this.pageSize}`;
    const request = { registry: this.name, first, scope: "registry:catalog:*" };
    return listAllPages(this.client, request, "repositories");
  }

  async listTags(repository: string): Promise<string[]> {
    checkRepository(repository);
    const first = `/v2/${repository}/tags/list?n=${this.pageSize}`;
    const request = { registry: this.name, first, scope: pullScope(repository), repository };
    return listAllPages(this.client, request, "tags");
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    checkRepository(repository);
    checkManifestReference(reference);
    const response = await this.client.request({
      method: "GET",
      target: `/v2/${repository}/manifests/${reference}`,
      scope: pullScope(repository),
      repository,
      accept: manifestMediaTypes,
      retry: true,
    });
    return readManifestResponse(response, { registry: this.name, repository, reference });
  }

  /** Fetches a manifest's digest, media type and size with HEAD, without its body. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead> {
    checkRepository(repository);
    checkManifestReference(reference);
    const response = await this.client.request({
      method: "HEAD",
      target: `/v2/${repository}/manifests/${reference}`,
      scope: pullScope(repository),
      repository,
      accept: manifestMediaTypes,
      retry: true,
    });
    await response.body.dump();
    return manifestHeadOf(response.headers);
  }

  /**
   * Returns a manifest's digest: the HEAD response's Docker-Content-Digest,
   * else the hash of the manifest fetched with GET, because the header is
   * optional and some registries leave it out.
   */
  async manifestDigest(repository: string, reference: string): Promise<string> {
    const head = await this.headManifest(repository, reference);
    if (head.digest !== undefined) return head.digest;
    return (await this.getManifest(repository, reference)).digest;
  }

  /**
   * Returns a blob's size from a HEAD request, for blobs whose manifest
   * gives none (schema 1) or that are opened by digest alone.
   */
  async statBlob(repository: string, digest: string): Promise<number> {
    checkRepository(repository);
    validateDigest(digest);
    const response = await this.client.request({
      method: "HEAD",
      target: `/v2/${repository}/blobs/${digest}`,
      scope: pullScope(repository),
      repository,
      retry: true,
    });
    await response.body.dump();
    const size = Number(headerValue(response.headers, "content-length"));
    if (!Number.isSafeInteger(size) || size < 0) {
      const message = `blob ${digest} of ${this.name}/${repository}: HEAD sent no valid Content-Length`;
      throw new RegdavError("REGISTRY_ERROR", message);
    }
    return size;
  }

  /**
   * Downloads a blob, verified against its digest and size as it streams.
   * A download that breaks off resumes with a Range request (resumable-blob.ts).
   */
  // NOTE: the descriptor's foreign-layer `urls` are never tried; the blob
  // is always requested from the registry.
  async openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    checkRepository(repository);
    validateDigest(descriptor.digest);
    const request: RegistryRequest = {
      method: "GET",
      target: `/v2/${repository}/blobs/${descriptor.digest}`,
      scope: pullScope(repository),
      repository,
      retry: true,
    };
    const response = await this.client.request(request);

    const declared = Number(headerValue(response.headers, "content-length"));
    const { size } = descriptor;
    if (size !== undefined && Number.isFinite(declared) && declared !== size) {
      response.body.destroy();
      throw new SizeMismatchError(
        "blob",
        descriptor.digest,
        repository,
        size,
        declared,
        "declared",
      );
    }

    const body = resumableBlob({
      first: response,
      reopen: (offset) =>
        this.client.request({ ...request, headers: { range: `bytes=${offset}-` } }),
      ...(size !== undefined && { size }),
      label: `blob ${descriptor.digest} of ${this.name}/${repository}`,
    });
    const verifier = createDigestVerifier({ digest: descriptor.digest, size, repository });
    return pipeVerified(body, verifier, displayUrl(response.url));
  }

  /** Opens bytes `start` to `end` (inclusive) of a blob with one Range request; see BlobRangeReader. */
  async openBlobRange(repository: string, digest: string, start: number, end: number): Promise<Readable> {
    checkRepository(repository);
    validateDigest(digest);
    const response = await this.client.request({
      method: "GET",
      target: `/v2/${repository}/blobs/${digest}`,
      scope: pullScope(repository),
      repository,
      headers: { range: `bytes=${start}-${end}` },
      retry: true,
    });
    return rangeBody(response, start, end, `blob ${digest} of ${this.name}/${repository}`);
  }

  /** Lists the manifests whose subject is `digest` with the referrers API; see ReferrersLister. */
  async listReferrers(repository: string, digest: string): Promise<Descriptor[] | undefined> {
    checkRepository(repository);
    validateDigest(digest);
    const request = { registry: this.name, repository, digest, scope: pullScope(repository) };
    return fetchReferrers(this.client, request);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Pipes a response body through its verifier. A body error reaches the
 * reader as a RegdavError, and a reader that stops early aborts the download.
 */
function pipeVerified(body: Readable, verifier: DigestVerifier, url: string): Readable {
  body.on("error", (error) => verifier.destroy(transportError("GET", url, error)));
  verifier.on("close", () => body.destroy());
  return body.pipe(verifier);
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

function checkRepository(repository: string): void {
  if (!isValidRepository(repository)) {
    throw new RegdavError("BAD_REQUEST", `invalid repository name ${JSON.stringify(repository)}`);
  }
}

function checkManifestReference(reference: string): void {
  if (reference.includes(":")) {
    validateDigest(reference);
  } else if (!isValidTag(reference)) {
    throw new RegdavError("BAD_REQUEST", `invalid tag ${JSON.stringify(reference)}`);
  }
}

function manifestHeadOf(headers: Parameters<typeof headerValue>[0]): ManifestHead {
  const head: ManifestHead = {};
  const digest = headerValue(headers, "docker-content-digest");
  if (digest !== undefined && isDigest(digest)) head.digest = digest;
  const mediaType = headerValue(headers, "content-type");
  if (mediaType !== undefined) head.mediaType = mediaType;
  const size = Number(headerValue(headers, "content-length"));
  if (Number.isSafeInteger(size) && size >= 0) head.size = size;
  return head;
}
