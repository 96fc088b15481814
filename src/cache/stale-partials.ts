import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

import { log } from "../log.js";
import { PARTIAL_SUFFIX } from "./atomic-file.js";

/** `<final name>.<pid>.<8 hex>.partial`, as temporaryPathFor names them. */
const PARTIAL_NAME = /\.(\d+)\.[0-9a-f]{8}\.partial$/;

/**
 * Deletes the temporary files that a regdav process killed in the middle of
 * a write left in the cache folder, and returns how many it deleted. A
 * temporary file is never read as a cache record, so this only frees disk
 * space. A file whose writer is still running, such as another regdav
 * process sharing the folder, is kept. Call it at start, before this
 * process writes to the cache.
 *
 * NOTE: a dead writer's process id may have been reused by an unrelated
 * process, and its leftovers are then kept until a later start.
 */
export async function removeStalePartials(root: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(root, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }

  let removed = 0;
  for (const name of names) {
    if (!name.endsWith(PARTIAL_SUFFIX) || !isStale(name)) continue;
    await rm(join(root, name), { force: true });
    removed++;
  }
  if (removed > 0) log.info("removed unfinished cache files", { cache: root, files: removed });
  return removed;
}

function isStale(name: string): boolean {
  const match = PARTIAL_NAME.exec(name);
  if (match === null) return false;
  const pid = Number(match[1]);
  // This process has written nothing yet, so a file named with its id is a dead process's.
  return pid === process.pid || !isRunning(pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
