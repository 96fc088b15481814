import { LRUCache } from "lru-cache";

import type { FilesystemView } from "../image/filesystem-view.js";

/** How many built views are kept at most. Each contains one folder tree of an image or a layer in memory. */
const MAX_VIEWS = 32;

/**
 * Memory that the kept views may take, by VIEW_BYTES_PER_ENTRY. The newest
 * view stays even when it alone is larger, so a huge image is not built
 * again for every request.
 */
export const VIEW_MEMORY_BUDGET = 256 * 1024 * 1024;

/**
 * Estimated bytes of heap per name in a view's tree. Built from one layer of
 * 306,603 entries, a view took 50.5 MiB of heap, about 173 bytes each.
 */
export const VIEW_BYTES_PER_ENTRY = 200;

/**
 * Built views by key, kept while they fit MAX_VIEWS and the memory budget.
 * A view counts as one byte while it is being built.
 */
export class ViewCache {
  private readonly views: LRUCache<string, Promise<FilesystemView>>;

  constructor(private readonly maxBytes = VIEW_MEMORY_BUDGET) {
    this.views = new LRUCache({ max: MAX_VIEWS, maxSize: maxBytes, sizeCalculation: () => 1 });
  }

  /**
   * Returns the view stored under `key`, building it once while it is in use.
   * Keys are made of layer digests, so a view never goes stale. A build that
   * fails is forgotten, so the next request tries again.
   */
  get(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
    let view = this.views.get(key);
    if (!view) {
      const building = build();
      view = building;
      this.views.set(key, building);
      building.then(
        (built) => this.resize(key, building, built.entryCount),
        () => this.views.delete(key),
      );
    }
    return view;
  }

  /** Views kept now. */
  get size(): number {
    return this.views.size;
  }

  /** Tells whether a view is kept under `key`, without counting it as used. */
  has(key: string): boolean {
    return this.views.has(key);
  }

  /** Counts a built view by its entries, evicting older views to make room. */
  private resize(key: string, building: Promise<FilesystemView>, entryCount: number): void {
    if (this.views.peek(key) !== building) return;
    const size = Math.max(1, Math.min(this.maxBytes, entryCount * VIEW_BYTES_PER_ENTRY));
    this.views.set(key, building, { size });
  }
}

const views = new ViewCache();

/** Returns the view under `key` from the process's view cache, building it when missing. */
export function cachedView(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
  return views.get(key, build);
}
