import type { Readable } from "node:stream";

import { isNotFound, RegdavError } from "../errors.js";
import { log } from "../log.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import { isValidDomain } from "../reference/grammar.js";
import { normalizeRegistry } from "../reference/reference.js";
import type {
  BlobDescriptor,
  BlobSizeLookup,
  FetchedManifest,
  ImageSource,
  ReferrersLister,
  RepositoryLister,
} from "../source/image-source.js";
import type { RegistrySource } from "./registry-source.js";

/**
 * Reading a registry through pull-through caches, as docker's
 * `registry-mirrors` does for Docker Hub: each request goes to the mirrors in
 * the order given, and to the registry itself when every mirror fails. An
 * info line names the source that served each request. The catalog comes from the registry first,
 * because a pull-through cache lists only the repositories it has cached.
 * Only the opening of a blob falls back; a download that breaks off later
 * fails as it would without a mirror. A mirror that cannot be reached is
 * skipped for 30 s, so that a dead one does not delay every request.
 */
export interface MirrorOption {
  /** The registry read through the mirror, such as `docker.io`. */
  registry: string;
  /** `http://host:port` or `https://host`, the mirror's API root without `/v2/`. */
  url: URL;
}

export interface Mirror {
  url: URL;
  source: RegistrySource;
}

const unreachableSkipMs = 30_000;

/** Parses `--mirror NAME=URL`, such as `docker.io=http://127.0.0.1:5001`; throws on a bad one. */
export function parseMirrorOption(text: string): MirrorOption {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new Error("use NAME=URL, such as docker.io=http://127.0.0.1:5001");
  const registry = normalizeRegistry(text.slice(0, equals));
  if (!isValidDomain(registry)) {
    throw new Error(`invalid registry name ${JSON.stringify(registry)}`);
  }

  const address = text.slice(equals + 1);
  if (!/^https?:\/\//i.test(address)) {
    throw new Error(
      "the mirror URL must start with http:// or https://, such as http://127.0.0.1:5001",
    );
  }
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new Error(`invalid mirror URL ${JSON.stringify(address)}`);
  }
  if (url.pathname !== "/" || url.search !== "" || url.username !== "" || url.password !== "") {
    throw new Error(
      "the mirror URL must be only a scheme, host and port: put credentials in an auth file",
    );
  }
  return { registry, url };
}

export class MirroredSource
  implements ImageSource, RepositoryLister, BlobSizeLookup, ReferrersLister
{
  readonly name: string;
  /** When each unreachable mirror is tried again, in milliseconds since the epoch. */
  private readonly skippedUntil = new Map<Mirror, number>();

  constructor(
    private readonly origin: RegistrySource,
    private readonly mirrors: readonly Mirror[],
    private readonly now: () => number = Date.now,
  ) {
    this.name = origin.name;
  }

  listTags(repository: string): Promise<string[]> {
    return this.read({ operation: "tags", repository }, (source) => source.listTags(repository));
  }

  getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const request = { operation: "manifest", repository, reference };
    return this.read(request, (source) => source.getManifest(repository, reference));
  }

  openBlob(repository: string, descriptor: BlobDescriptor): Promise<Readable> {
    const request = { operation: "blob", repository, reference: descriptor.digest };
    return this.read(request, (source) => source.openBlob(repository, descriptor));
  }

  statBlob(repository: string, digest: string): Promise<number> {
    const request = { operation: "blob size", repository, reference: digest };
    return this.read(request, (source) => source.statBlob(repository, digest));
  }

  listReferrers(repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const request = { operation: "referrers", repository, reference: digest };
    return this.read(request, (source) => source.listReferrers(repository, digest));
  }

  async listRepositories(): Promise<string[]> {
    try {
      return await this.origin.listRepositories();
    } catch (error) {
      if (this.mirrors.length === 0) throw error;
      this.logFallback("the registry", { operation: "catalog" }, error);
      return this.mirrors[0]!.source.listRepositories();
    }
  }

  async close(): Promise<void> {
    const sources = [this.origin, ...this.mirrors.map((mirror) => mirror.source)];
    await Promise.all(sources.map((source) => source.close()));
  }

  private async read<T>(
    request: ReadRequest,
    action: (source: RegistrySource) => Promise<T>,
  ): Promise<T> {
    for (const mirror of this.mirrors) {
      if ((this.skippedUntil.get(mirror) ?? 0) > this.now()) continue;
      try {
        const result = await action(mirror.source);
        const fields = { registry: this.name, mirror: mirror.url.host, ...request };
        log.info("read through mirror", fields);
        return result;
      } catch (error) {
        if (error instanceof RegdavError && error.code === "BAD_REQUEST") throw error;
        if (isUnreachable(error)) this.skippedUntil.set(mirror, this.now() + unreachableSkipMs);
        this.logFallback(`mirror ${mirror.url.host}`, request, error);
      }
    }

    const result = await action(this.origin);
    if (this.mirrors.length > 0) {
      log.info("read from the registry", { registry: this.name, ...request });
    }
    return result;
  }

  /** NOT_FOUND is logged at info, since a cache may lack what the registry has. */
  private logFallback(failed: string, request: ReadRequest, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const fields = { registry: this.name, failed, ...request, error: message };
    if (isNotFound(error)) log.info("not found, asking the next source", fields);
    else log.warn("read failed, asking the next source", fields);
  }
}

function isUnreachable(error: unknown): boolean {
  return (
    error instanceof RegdavError &&
    (error.code === "REGISTRY_UNREACHABLE" || error.code === "TIMEOUT")
  );
}

interface ReadRequest {
  operation: string;
  repository?: string;
  reference?: string;
}
