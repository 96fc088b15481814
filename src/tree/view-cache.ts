import { LRUCache } from "lru-cache";

import type { FilesystemView } from "../image/filesystem-view.js";

/** How many built views are kept; each contains one folder tree of an image or a layer in memory. */
const MAX_VIEWS = 32;

const views = new LRUCache<string, Promise<FilesystemView>>({ max: MAX_VIEWS });

/**
 * Returns the view stored under `key`, building it once while it is in use.
 * Keys are made of layer digests, so a view never goes stale. A build that
 * fails is forgotten, so the next request tries again.
 */
export function cachedView(key: string, build: () => Promise<FilesystemView>): Promise<FilesystemView> {
  let view = views.get(key);
  if (!view) {
    view = build();
    views.set(key, view);
    view.catch(() => views.delete(key));
  }
  return view;
}
