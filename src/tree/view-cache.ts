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
 * Builds in progress are kept apart and take no part in eviction, so a
 * build that has not finished neither pushes out a finished view nor is
 * pushed out and started a second time.
 */
export class ViewCache {
  private readonly views: LRUCache<string, FilesystemView>;
  private readonly builds = new Map<string, Promise<FilesystemView>>();

  constructor(private readonly maxBytes = VIEW_MEMORY_BUDGET) {
    this.views = new LRUCache({
      max: MAX_VIEWS,
      maxSize: maxBytes,
      sizeCalculation: (view) => this.sizeOf(view),
    });
  }

  /**
   * Returns the view stored under `key`, or builds it once, however many
   * requests wait for it. Keys are made of layer digests, so a view never
   * goes stale. A build that fails is forgotten, so the next request tries
   * again.
   */
  get(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
    const built = this.views.get(key);
    if (built) return Promise.resolve(built);
    const running = this.builds.get(key);
    if (running) return running;

    const building = build()
      .then((view) => {
        this.views.set(key, view);
        return view;
      })
      .finally(() => this.builds.delete(key));
    this.builds.set(key, building);
    return building;
  }

  /** Finished views kept now. */
  get size(): number {
    return this.views.size;
  }

  /** Tells whether a finished view is kept under `key`, without counting it as used. */
  has(key: string): boolean {
    return this.views.has(key);
  }

  /** Tells whether a view is being built under `key`. */
  isBuilding(key: string): boolean {
    return this.builds.has(key);
  }

  /**
   * Counts a view by its entries. The size is capped at the budget, so the
   * newest view is kept even when it alone is larger, and the others go.
   */
  private sizeOf(view: FilesystemView): number {
    return Math.max(1, Math.min(this.maxBytes, view.entryCount * VIEW_BYTES_PER_ENTRY));
  }
}

const views = new ViewCache();

/** Returns the view under `key` from the process's view cache, building it when missing. */
export function cachedView(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
  return views.get(key, build);
}
