import { rm } from "node:fs/promises";

import { LAYER_TREE_VERSION, layerTreeFile, StoredLayerTree } from "../image/layer-tree-file.js";
import { layerTreeFolders, type LayerTree } from "../image/layer-tree.js";
import { SpilledFolders } from "../image/spilled-folders.js";
import {
  isTarLayerIndex,
  LAYER_INDEX_VERSION,
  type SociLayerIndex,
  type TocLayerIndex,
} from "../layer/layer-index.js";
import { TOC_RECORD_VERSION } from "../layer/toc/toc-record.js";
import { log } from "../log.js";
import { temporaryPathFor, writePiecesAtomic } from "./atomic-file.js";
import type { CacheLayout } from "./cache-layout.js";
import { InFlight } from "./in-flight.js";
import type { TarListing } from "./tar-listing-file.js";

/** A listing that a layer tree is built from: the tar pass's, read in order, or a TOC's or zTOC's. */
export type StoredListing = TarListing | TocLayerIndex | SociLayerIndex;

/**
 * Stores each layer listing as a layer tree file in the cache, built once,
 * and opens it for views. The file stays with the layer's indexes, which
 * the cache budget never evicts.
 */
export class LayerTreeStore {
  private readonly builds = new InFlight<LayerTree>();
  /** Trees opened by this process, by file path. Each is a few numbers, so all stay. */
  private readonly opened = new Map<string, StoredLayerTree>();

  constructor(private readonly layout: CacheLayout) {}

  /** Returns the stored tree of a listing, building and storing it first when there is none. */
  tree(index: StoredListing): Promise<LayerTree> {
    const path = this.pathOf(index.digest, listingName(index));
    const known = this.opened.get(path);
    if (known) return Promise.resolve(known);
    return this.builds.run(path, async () => {
      let stored = await openStored(path);
      if (stored === undefined) {
        // The tree is built again from the listing when a crash damages it, so it is not flushed to disk.
        const folders = new SpilledFolders(temporaryPathFor(`${path}.folders`));
        await writePiecesAtomic(path, layerTreeFile(layerTreeFolders(index, folders)), { flush: false });
        if (folders.spilledCount > 0) {
          log.info("layer tree built with folders written out", { digest: index.digest, spills: folders.spilledCount });
        }
        await this.removeOlderTrees(index);
        stored = StoredLayerTree.open(path);
      }
      this.opened.set(path, stored);
      return stored;
    });
  }

  /**
   * Returns the tree of a layer's tar or TOC listing that this process has
   * opened before, without reading the listing, or undefined.
   */
  openedTree(digest: string, listing: "tar" | "toc"): LayerTree | undefined {
    return this.opened.get(this.pathOf(digest, versionedName(listing)));
  }

  /** Opens the stored tree of a listing without reading the listing, or returns undefined when none is stored. */
  async storedTree(digest: string, listing: "tar" | "toc"): Promise<LayerTree | undefined> {
    const path = this.pathOf(digest, versionedName(listing));
    const stored = this.opened.get(path) ?? (await openStored(path));
    if (stored) this.opened.set(path, stored);
    return stored;
  }

  /**
   * Deletes the trees that earlier versions of regdav stored for the same
   * listing, which nothing reads any more and the cache budget never evicts.
   */
  private async removeOlderTrees(index: StoredListing): Promise<void> {
    const names = [listingName(index)];
    if (isTarLayerIndex(index)) {
      for (let version = 1; version < LAYER_INDEX_VERSION; version++) names.push(`tar-v${version}`);
    } else if (index.offsets === "toc") {
      for (let version = 1; version < TOC_RECORD_VERSION; version++) names.push(`toc-v${version}`);
    }
    for (const name of names) {
      for (let version = 1; version <= LAYER_TREE_VERSION; version++) {
        const path = this.layout.layerTree(index.digest, name, version);
        if (path !== this.pathOf(index.digest, listingName(index))) await rm(path, { force: true });
      }
    }
  }

  private pathOf(digest: string, listing: string): string {
    return this.layout.layerTree(digest, listing, LAYER_TREE_VERSION);
  }
}

/**
 * Opens a stored tree after checking its digest, or returns undefined,
 * after logging any other failure than a missing file.
 */
async function openStored(path: string): Promise<StoredLayerTree | undefined> {
  try {
    const tree = StoredLayerTree.open(path);
    await StoredLayerTree.verify(path);
    return tree;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      log.warn("stored layer tree unreadable, building it again", { path, error: String(error) });
    }
    return undefined;
  }
}

/**
 * Names the listing a tree was built from, because the offsets of its files
 * differ between them. A blob has at most one TOC, and a layer may be listed
 * from the zTOCs of several SOCI indexes. The tar and TOC names carry the
 * version of the stored listing, so a tree is never used with a listing of
 * another format.
 */
function listingName(index: StoredListing): string {
  if (isTarLayerIndex(index)) return versionedName("tar");
  if (index.offsets === "toc") return versionedName("toc");
  return `soci-${index.ztoc.split(":")[1] ?? ""}`;
}

function versionedName(listing: "tar" | "toc"): string {
  return listing === "tar" ? `tar-v${LAYER_INDEX_VERSION}` : `toc-v${TOC_RECORD_VERSION}`;
}
