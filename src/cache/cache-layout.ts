import { homedir } from "node:os";
import { rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * The paths of each kind of cached record below the cache folder. Every record
 * is named by a content digest, so a record never changes once written and is
 * safe to reuse after a restart.
 */
export class CacheLayout {
  constructor(readonly root: string) {}

  blob(digest: string): string {
    return join(this.root, "blobs", ...splitDigest(digest));
  }

  /** Returns the path of a layer's uncompressed tar, read by offset once the layer is indexed. */
  layerTar(digest: string): string {
    return join(this.root, "layers", ...splitDigest(digest)) + ".tar";
  }

  /** Returns the path of the points where decoding of a layer's blob can resume, for reads by Range. */
  layerAccessIndex(digest: string, version: number): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + `.access.v${version}.bin`;
  }

  /**
   * Returns the path of a layer's listing from its own table of contents
   * (eStargz, zstd:chunked), stored with the chunks its files are read from.
   */
  layerToc(digest: string, version: number): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + `.toc.v${version}.json`;
  }

  /** Returns the path of the SOCI zTOC a layer was listed from, the blob's exact bytes. */
  layerZtoc(digest: string): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + ".ztoc";
  }

  /** Returns the path of the record that a read proved a layer's zTOC wrong, which names that zTOC. */
  layerZtocRejection(digest: string): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + ".ztoc-rejected.json";
  }

  /**
   * Returns the path of the folder tree built from one listing of a layer,
   * named by `listing`, such as `tar-v1`, `toc-v1`, or `soci-` and the zTOC's hex digest.
   */
  layerTree(digest: string, listing: string, version: number): string {
    if (!/^[a-z0-9-]+$/.test(listing)) throw new Error(`invalid listing name for a cache path: ${JSON.stringify(listing)}`);
    return join(this.root, "indexes", ...splitDigest(digest)) + `.tree-${listing}.v${version}.bin`;
  }

  /** Returns the path of the totals and markers of a layer's tar pass, written after its entries. */
  layerIndex(digest: string, version: number): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + `.v${version}.json`;
  }

  /** Returns the path of the entries of a layer's tar pass, one JSON object per line, in tar order. */
  layerEntries(digest: string, version: number): string {
    return join(this.root, "indexes", ...splitDigest(digest)) + `.entries.v${version}.jsonl`;
  }
}

function splitDigest(digest: string): [string, string] {
  const [algorithm, hex] = digest.split(":");
  if (!algorithm || !hex || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) {
    throw new Error(`invalid digest for a cache path: ${JSON.stringify(digest)}`);
  }
  return [algorithm, hex];
}

/** Returns the default cache folder: `$XDG_CACHE_HOME/regdav`, else `~/.cache/regdav`. */
export function defaultCacheDirectory(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "regdav");
}

/**
 * Deletes the records that earlier format versions, 1 up to `current - 1`,
 * stored at `pathOf(version)`. Nothing reads them again, and the cache
 * budget never evicts them.
 */
export async function removeEarlierVersions(current: number, pathOf: (version: number) => string): Promise<void> {
  for (let version = 1; version < current; version++) await rm(pathOf(version), { force: true });
}
