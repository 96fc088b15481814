import { LRUCache } from "lru-cache";

import type { FilesystemView } from "../image/filesystem-view.js";

/**
 * How many built views are kept at most. A view keeps little memory of its
 * own: the merged folders it reads are kept in one cache shared by all views
 * (layered-folders.ts), and its layer trees are read from disk.
 */
const MAX_VIEWS = 64;

/**
 * Built views by key, the least recently used evicted first. Builds in
 * progress are kept apart and take no part in eviction, so a build that has
 * not finished neither pushes out a finished view nor is pushed out and
 * started a second time.
 */
export class ViewCache {
  private readonly views: LRUCache<string, FilesystemView>;
  private readonly builds = new Map<string, Promise<FilesystemView>>();

  constructor(maxViews = MAX_VIEWS) {
    this.views = new LRUCache({ max: maxViews });
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
}

const views = new ViewCache();

/** Returns the view under `key` from the process's view cache, building it when missing. */
export function cachedView(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
  return views.get(key, build);
}
