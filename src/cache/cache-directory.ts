import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { RegdavError } from "../errors.js";

import { removeStalePartials } from "./stale-partials.js";

/**
 * Prepares the cache folder at start. A missing folder is created readable
 * by this user only (mode 0700), because it contains the layers of private
 * images; an existing one keeps its mode. Then the temporary files of
 * killed regdav processes are deleted.
 */
export async function openCacheDirectory(root: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await checkWritable(root);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RegdavError("BAD_REQUEST", `cache folder ${JSON.stringify(root)} is not writable (--cache-dir): ${reason}`);
  }
  await removeStalePartials(root);
}

/** Writes and deletes a probe file, so an unwritable cache fails at start instead of on every read. */
async function checkWritable(root: string): Promise<void> {
  const probe = join(root, `.write-check.${process.pid}.partial`);
  await writeFile(probe, "");
  await rm(probe, { force: true });
}
