import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { manifestMediaTypes } from "../manifest/media-types.js";
import { isDigest, validateDigest } from "../reference/digest.js";
import {
  createDigestVerifier,
  SizeMismatchError,
  type DigestVerifier,
} from "../reference/digest-verifier.js";
import { isValidRepository, isValidTag } from "../reference/grammar.js";
import type {
  BlobDescriptor,
  FetchedManifest,
  ImageSource,
  RepositoryLister,
} from "../source/image-source.js";
import { readBoundedBody } from "./body.js";
import type { CredentialStore } from "./credentials.js";
import { displayUrl, headerValue, transportError, type HttpClientOptions } from "./http.js";
import { readManifestResponse } from "./manifest-fetch.js";
import { nextPageUrl } from "./pagination.js";
import { RegistryClient } from "./registry-client.js";

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
  credentials?: CredentialStore;
  http?: HttpClientOptions;
  /** Entries requested per page of the catalog and tag lists (`n`); default 1000. */
  pageSize?: number;
  /** Clock in milliseconds for token expiry, replaceable in tests. */
  now?: () => number;
}

/** Headers of a manifest fetched with HEAD: its digest, media type and size. */
export interface ManifestHead {
  /** The registry's Docker-Content-Digest, when sent. */
  digest?: string;
  mediaType?: string;
  /** Bytes, from Content-Length. */
  size?: number;
}

/** Maximum size of one page of the catalog or a tag list. */
const maxListPageBytes = 8 * 1024 * 1024;
/** Maximum number of pages read for one listing, a guard against registries that page forever. */
const maxListPages = 10_000;

export class RegistrySource implements ImageSource, RepositoryLister {
  readonly name: string;
  private readonly client: RegistryClient;
  private readonly pageSize: number;

  constructor(options: RegistrySourceOptions) {
    this.name = options.name;
    this.client = new RegistryClient(options);
    this.pageSize = options.pageSize ?? 1000;
  }

  async listRepositories(): Promise<string[]> {
    const first = `/v2/_catalog?n=${this.pageSize}`;
    return this.listAllPages(first, "registry:catalog:*", undefined, "repositories");
  }

  async listTags(repository: string): Promise<string[]> {
    checkRepository(repository);
    const first = `/v2/${repository}/tags/list?n=${this.pageSize}`;
    return this.listAllPages(first, pullScope(repository), repository, "tags");
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
    });
    await response.body.dump();
    return manifestHeadOf(response.headers);
  }

  // NOTE: the descriptor's foreign-layer `urls` are never tried; the blob
  // is always requested from the registry.
  async openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    checkRepository(repository);
    validateDigest(descriptor.digest);
    const response = await this.client.request({
      method: "GET",
      target: `/v2/${repository}/blobs/${descriptor.digest}`,
      scope: pullScope(repository),
      repository,
    });

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

    const verifier = createDigestVerifier({ digest: descriptor.digest, size, repository });
    return pipeVerified(response.body, verifier, displayUrl(response.url));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Reads every page by following `Link: <...>; rel="next"`, and returns the names in order. */
  private async listAllPages(
    first: string,
    scope: string,
    repository: string | undefined,
    field: "repositories" | "tags",
  ): Promise<string[]> {
    const names: string[] = [];
    const visited = new Set<string>();
    let target: string | URL | undefined = first;
    while (target !== undefined) {
      const response = await this.client.request({
        method: "GET",
        target,
        scope,
        ...(repository !== undefined && { repository }),
      });
      checkNextPage(this.name, response.url, visited);

      const body = await readBoundedBody(response, maxListPageBytes, (size) => {
        return new RegdavError(
          "REGISTRY_ERROR",
          `registry ${this.name} sent a list page of ${size}`,
        );
      });
      names.push(...namesOf(body, field, this.name, response.url));
      target = nextPageUrl(response.headers, response.url);
    }
    return [...new Set(names)];
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

function checkNextPage(registry: string, url: URL, visited: Set<string>): void {
  if (visited.has(url.href)) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} linked back to page ${url.pathname}${url.search}`,
    );
  }
  if (visited.size >= maxListPages) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent more than ${maxListPages} pages`,
    );
  }
  visited.add(url.href);
}

/** Reads `repositories` or `tags` from a page. A `null` list, sent for no tags, gives none. */
function namesOf(body: Buffer, field: string, registry: string, url: URL): string[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent invalid JSON for ${url.pathname}`,
    );
  }

  const list = (json as Record<string, unknown> | null)?.[field];
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list) || list.some((name) => typeof name !== "string")) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent a ${field} field that is not a list of names`,
    );
  }
  return list as string[];
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
