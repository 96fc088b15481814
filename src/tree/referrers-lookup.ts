import { LRUCache } from "lru-cache";

import { isNotFound, RegdavError } from "../errors.js";
import { log } from "../log.js";
import { parseManifest } from "../manifest/parse.js";
import type { Descriptor } from "../manifest/manifest-types.js";
import { parseDigest } from "../reference/digest.js";
import { canListReferrers, canProbeManifests } from "../source/image-source.js";
import type { SourceCache } from "../cache/source-cache.js";

/** How long a list of referrers is reused: a new signature or SBOM shows up after at most this. */
const REFERRERS_TTL_MS = 30_000;

const lists = new LRUCache<string, Promise<Descriptor[]>>({ max: 1000, ttl: REFERRERS_TTL_MS });

/**
 * Returns the manifests whose subject is `digest`. They come from the
 * referrers API where the source has it, else from the image index tagged
 * with the referrers tag schema (`sha256-<hex>`), which the distribution
 * spec has clients maintain for registries without the API. No such tag
 * means no referrers. Concurrent and repeated calls within 30 s share one
 * lookup.
 */
export function listReferrers(
  source: SourceCache,
  repository: string,
  digest: string,
): Promise<Descriptor[]> {
  const key = `${source.name}/${repository}@${digest}`;
  let list = lists.get(key);
  if (!list) {
    list = lookUpReferrers(source, repository, digest);
    lists.set(key, list);
    list.catch(() => lists.delete(key));
  }
  return list;
}

async function lookUpReferrers(
  source: SourceCache,
  repository: string,
  digest: string,
): Promise<Descriptor[]> {
  const registry = source.source;
  if (canListReferrers(registry)) {
    const listed = await registry.listReferrers(repository, digest);
    if (listed !== undefined) return listed;
  }
  return referrersFromTag(source, repository, digest);
}

async function referrersFromTag(
  source: SourceCache,
  repository: string,
  digest: string,
): Promise<Descriptor[]> {
  const tag = referrersTag(digest);
  let manifest;
  try {
    // Registries such as Docker Hub count each manifest GET as a pull, and most images have no
    // referrers tag, so a HEAD checks for it first.
    const registry = source.source;
    if (canProbeManifests(registry)) await registry.headManifest(repository, tag);
    manifest = await source.getManifest(repository, tag);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }

  // The spec has clients treat a referrers tag that is not a valid index as no referrers.
  let problem: string;
  try {
    const parsed = parseManifest(manifest, repository);
    if (parsed.kind === "index") return parsed.manifests;
    problem = `is a ${parsed.kind} manifest`;
  } catch (error) {
    if (!(error instanceof RegdavError && error.code === "INVALID_MANIFEST")) throw error;
    problem = error.message;
  }
  log.warn("referrers tag is not an image index, so no referrers are shown", {
    repository,
    tag,
    problem,
  });
  return [];
}

/**
 * Returns the referrers tag of a digest (distribution-spec 1.1, "Referrers
 * Tag Schema"): the algorithm cut to 32 characters, `-`, and the hex cut to
 * 64 characters, such as `sha256-<64 hex>` or `sha512-<first 64 hex>`.
 */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}
