import type { Readable } from "node:stream";

import type { Descriptor } from "../manifest/manifest-types.js";

/**
 * A place images come from: a registry now, an OCI layout folder or an image
 * archive later. The tree asks every source the same questions, so it does not
 * know which kind it shows. Listing repositories is an optional ability, since
 * Docker Hub has no catalog.
 */
export interface ImageSource {
  /** The folder name at the root, such as `docker.io` or `127.0.0.1:5000`. */
  readonly name: string;

  /** Returns every tag of a repository, all pages. */
  listTags(repository: string): Promise<string[]>;

  /**
   * Fetches a manifest by tag or by digest (`sha256:<hex>`), verified against
   * its digest: against the requested digest, or the registry's
   * Docker-Content-Digest for a tag, or the hash of the bytes when none is
   * sent.
   */
  getManifest(repository: string, reference: string): Promise<FetchedManifest>;

  /**
   * Streams a blob's raw bytes. The stream errors with DIGEST_MISMATCH or
   * SIZE_MISMATCH at the end when the bytes do not match `descriptor`, so a
   * consumer must not trust the content before the stream ends cleanly.
   */
  openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable>;
}

export interface RepositoryLister {
  /** Returns every repository name, all pages of the catalog. */
  listRepositories(): Promise<string[]>;
}

export function canListRepositories(
  source: ImageSource,
): source is ImageSource & RepositoryLister {
  return typeof (source as Partial<RepositoryLister>).listRepositories === "function";
}

export interface BlobDescriptor {
  /** `sha256:<64 hex>` (or another algorithm the source supports). */
  digest: string;
  /** Expected size in bytes, when known. */
  size?: number;
  mediaType?: string;
  /** Foreign-layer URLs from the descriptor, tried only where allowed. */
  urls?: string[];
  /** The descriptor's annotations from the manifest, such as a layer's table-of-contents digest. */
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  /**
   * `sha256:<hex>` of `bytes`. For a signed schema 1 manifest it is the
   * digest of the payload without its signatures, which is what registries
   * compute and serve as Docker-Content-Digest.
   */
  digest: string;
  /** From the body's mediaType field when present, else the Content-Type. */
  mediaType: string;
  /** Exactly the bytes the source served. */
  bytes: Buffer;
}

/**
 * An optional ability of sources that store blobs locally: the size of a
 * blob without reading it, for listings that show file sizes.
 */
export interface BlobSizeLookup {
  /** Returns the size in bytes of the blob `digest`; throws NOT_FOUND when the source has none. */
  statBlob(repository: string, digest: string): Promise<number>;
}

export function canStatBlobs(source: ImageSource): source is ImageSource & BlobSizeLookup {
  return typeof (source as Partial<BlobSizeLookup>).statBlob === "function";
}

/**
 * An optional ability of registries with the OCI referrers API
 * (distribution-spec 1.1): listing the manifests whose `subject` is a given
 * manifest, such as signatures, SBOMs and attestations.
 */
export interface ReferrersLister {
  /**
   * Returns the descriptors of the manifests whose subject is `digest`, from
   * every page. Returns undefined when the registry has no referrers API
   * (it responds with 404), so the caller falls back to the referrers tag.
   */
  listReferrers(repository: string, digest: string): Promise<Descriptor[] | undefined>;
}

export function canListReferrers(source: ImageSource): source is ImageSource & ReferrersLister {
  return typeof (source as Partial<ReferrersLister>).listReferrers === "function";
}

/** An optional ability of registries: checking that a manifest exists with HEAD, without its body. */
export interface ManifestProbe {
  /** Resolves when the manifest exists, and throws NOT_FOUND when it does not. */
  headManifest(repository: string, reference: string): Promise<unknown>;
}

export function canProbeManifests(source: ImageSource): source is ImageSource & ManifestProbe {
  return typeof (source as Partial<ManifestProbe>).headManifest === "function";
}

/**
 * Reads part of a blob without downloading the rest: what random access
 * into a layer needs after its first pass.
 */
export interface BlobRangeReader {
  /**
   * Opens bytes `start` to `end` (inclusive) of a blob. Throws a
   * REGISTRY_ERROR when the source answers with other bytes than asked for,
   * such as a registry that ignores Range.
   */
  openBlobRange(repository: string, digest: string, start: number, end: number): Promise<Readable>;
}

export function canReadBlobRanges(source: ImageSource): source is ImageSource & BlobRangeReader {
  return typeof (source as Partial<BlobRangeReader>).openBlobRange === "function";
}
