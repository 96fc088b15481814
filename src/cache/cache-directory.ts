import { mkdir } from "node:fs/promises";

import { removeStalePartials } from "./stale-partials.js";

/**
 * Prepares the cache folder at start. A missing folder is created readable
 * by this user only (mode 0700), because it contains the layers of private
 * images; an existing one keeps its mode. Then the temporary files of
 * killed regdav processes are deleted.
 */
export async function openCacheDirectory(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await removeStalePartials(root);
}
