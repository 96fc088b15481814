import { LRUCache } from "lru-cache";
import type { Readable } from "node:stream";

import type {
  BlobDescriptor,
  FetchedManifest,
  ImageSource,
} from "../source/image-source.js";
import { canListRepositories, canReadBlobRanges, canStatBlobs } from "../source/image-source.js";
import { InFlight } from "./in-flight.js";

/** Time in ms that tag lists, catalogs and tag digests are reused before the source is asked again. */
const LISTING_TTL_MS = 30_000;
const MANIFEST_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Puts memory caches in front of one image source. Manifests fetched by
 * digest never change, so they are kept by size in an LRU; tag lists, the
 * catalog and what a tag points at are kept briefly. It also remembers the
 * manifest digests and blob descriptors seen per repository, which is what
 * `_manifests/` and `_blobs/` list, since a registry cannot enumerate them.
 */
export class SourceCache {
  private readonly manifests = new LRUCache<string, FetchedManifest>({
    maxSize: MANIFEST_MEMORY_BYTES,
    sizeCalculation: (manifest) => manifest.bytes.length + 200,
  });
  private readonly listings = new LRUCache<string, string[]>({ max: 1000, ttl: LISTING_TTL_MS });
  private readonly tagDigests = new LRUCache<string, string>({ max: 10_000, ttl: LISTING_TTL_MS });
  private readonly fetches = new InFlight<unknown>();
  private readonly seenManifests = new Map<string, Set<string>>();
  private readonly seenBlobs = new Map<string, Map<string, BlobDescriptor>>();
  private readonly visited = new Set<string>();

  /**
   * `catalog: false` is for registries known to have no catalog, such as
   * Docker Hub: the registry folder then lists the repositories visited
   * instead of waiting for a refusal.
   */
  constructor(
    readonly source: ImageSource,
    private readonly options: { catalog?: boolean } = {},
  ) {}

  get name(): string {
    return this.source.name;
  }

  get canListRepositories(): boolean {
    return this.options.catalog !== false && canListRepositories(this.source);
  }

  async listRepositories(): Promise<string[]> {
    const source = this.source;
    if (!this.canListRepositories || !canListRepositories(source)) return [...this.visited].sort();
    return this.listing("catalog", () => source.listRepositories());
  }

  async listTags(repository: string): Promise<string[]> {
    const tags = await this.listing(`tags ${repository}`, () => this.source.listTags(repository));
    this.visited.add(repository);
    return tags;
  }

  /** Fetches a manifest by tag or digest, from memory when the digest is known. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const digest = reference.includes(":") ? reference : this.tagDigests.get(`${repository}:${reference}`);
    const remembered = digest ? this.manifests.get(`${repository}@${digest}`) : undefined;
    if (remembered) return remembered;

    const key = `manifest ${repository} ${reference}`;
    const manifest = (await this.fetches.run(key, () =>
      this.source.getManifest(repository, reference),
    )) as FetchedManifest;
    this.remember(repository, reference, manifest);
    return manifest;
  }

  /**
   * Returns a blob's size: from a manifest that named it, else by asking the
   * source, or undefined when the source cannot tell without a download.
   */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    const seen = this.blobSeen(repository, digest)?.size;
    if (seen !== undefined) return seen;
    const source = this.source;
    if (!canStatBlobs(source)) return undefined;

    const size = (await this.fetches.run(`size ${repository} ${digest}`, () =>
      source.statBlob(repository, digest),
    )) as number;
    this.noteBlob(repository, { ...this.blobSeen(repository, digest), digest, size });
    return size;
  }

  get canReadRanges(): boolean {
    return canReadBlobRanges(this.source);
  }

  /** Opens part of a blob; only for a source where canReadRanges is true. */
  openBlobRange(repository: string, digest: string, start: number, end: number): Promise<Readable> {
    const source = this.source;
    if (!canReadBlobRanges(source)) throw new Error(`${this.name} cannot read blob ranges`);
    return source.openBlobRange(repository, digest, start, end);
  }

  openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    return this.source.openBlob(repository, descriptor);
  }

  /** Records a descriptor seen in a manifest, so `_blobs/` can list it. */
  noteBlob(repository: string, descriptor: BlobDescriptor): void {
    let blobs = this.seenBlobs.get(repository);
    if (!blobs) this.seenBlobs.set(repository, (blobs = new Map()));
    blobs.set(descriptor.digest, descriptor);
  }

  noteManifest(repository: string, digest: string): void {
    let digests = this.seenManifests.get(repository);
    if (!digests) this.seenManifests.set(repository, (digests = new Set()));
    digests.add(digest);
  }

  manifestsSeen(repository: string): string[] {
    return [...(this.seenManifests.get(repository) ?? [])].sort();
  }

  blobsSeen(repository: string): BlobDescriptor[] {
    return [...(this.seenBlobs.get(repository)?.values() ?? [])];
  }

  blobSeen(repository: string, digest: string): BlobDescriptor | undefined {
    return this.seenBlobs.get(repository)?.get(digest);
  }

  private remember(repository: string, reference: string, manifest: FetchedManifest) {
    this.manifests.set(`${repository}@${manifest.digest}`, manifest);
    if (!reference.includes(":")) this.tagDigests.set(`${repository}:${reference}`, manifest.digest);
    this.noteManifest(repository, manifest.digest);
    this.visited.add(repository);
  }

  private async listing(key: string, fetch: () => Promise<string[]>): Promise<string[]> {
    const cached = this.listings.get(key);
    if (cached) return cached;

    const names = (await this.fetches.run(key, fetch)) as string[];
    this.listings.set(key, names);
    return names;
  }
}
