import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

import { log } from "../log.js";

/** The cache folders whose files may be evicted; indexes are never evicted. */
const EVICTABLE_FOLDERS = ["blobs", "layers"];

interface CachedFile {
  size: number;
  /** Milliseconds since the epoch of the last read or write. */
  used: number;
}

/**
 * Keeps the evictable part of the cache (raw blobs and uncompressed layer
 * copies) under a size limit by deleting the least recently used files.
 * Layer indexes stay, so a layer whose blob was evicted is still listed and
 * read by Range requests without a new pass. A file being read while it is
 * deleted stays readable to that reader until it closes it.
 */
export class CacheBudget {
  private readonly files = new Map<string, CachedFile>();
  private total = 0;

  constructor(
    private readonly root: string,
    readonly limitBytes: number,
  ) {}

  /** Records the files already in the cache, oldest modification first, and evicts down to the limit. */
  async scan(): Promise<void> {
    for (const folder of EVICTABLE_FOLDERS) await this.scanFolder(join(this.root, folder));
    await this.evict();
  }

  /**
   * Records a file just written to the cache and evicts others when the
   * cache is over its limit. The new file itself is kept, since its writer
   * reads it next, so the newest file may take the cache over its limit.
   */
  async added(path: string, size: number): Promise<void> {
    this.forget(path);
    this.files.set(path, { size, used: Date.now() });
    this.total += size;
    await this.evict(path);
  }

  touched(path: string): void {
    const file = this.files.get(path);
    if (file) file.used = Date.now();
  }

  get usedBytes(): number {
    return this.total;
  }

  private async evict(keep?: string): Promise<void> {
    while (this.total > this.limitBytes) {
      const oldest = this.leastRecentlyUsed(keep);
      if (!oldest) return;
      const [path, file] = oldest;
      this.forget(path);
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") log.warn("cache eviction failed", { path, error: error.message });
      });
      log.debug("evicted from cache", { path, bytes: file.size });
    }
  }

  private leastRecentlyUsed(keep: string | undefined): [string, CachedFile] | undefined {
    let oldest: [string, CachedFile] | undefined;
    for (const entry of this.files) {
      if (entry[0] === keep) continue;
      if (!oldest || entry[1].used < oldest[1].used) oldest = entry;
    }
    return oldest;
  }

  private forget(path: string): void {
    const file = this.files.get(path);
    if (!file) return;
    this.total -= file.size;
    this.files.delete(path);
  }

  private async scanFolder(folder: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true, recursive: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.endsWith(".partial")) continue;
      const path = join(entry.parentPath ?? (entry as { path: string }).path, entry.name);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      this.files.set(path, { size: info.size, used: info.mtimeMs });
      this.total += info.size;
    }
  }
}
