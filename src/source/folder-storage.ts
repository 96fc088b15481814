import { createReadStream } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { fileTooLarge, missingFile, type LayoutStorage } from "./layout-storage.js";

interface ResolvedFile {
  /** The path with every symbolic link resolved. */
  realPath: string;
  size: number;
}

/** The files of an image layout folder, or of an extracted `docker save` archive. */
export class FolderStorage implements LayoutStorage {
  private constructor(
    readonly location: string,
    /** The folder with every symbolic link resolved, to check containment against. */
    private readonly root: string,
  ) {}

  static async open(folder: string): Promise<FolderStorage> {
    return new FolderStorage(folder, await realpath(folder));
  }

  async sizeOf(path: string): Promise<number | undefined> {
    return (await this.resolveInside(path))?.size;
  }

  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const file = await this.requireFile(path);
    if (file.size > maxBytes) throw fileTooLarge(this, path, file.size, maxBytes);
    return readFile(file.realPath);
  }

  async openFile(path: string): Promise<Readable> {
    const file = await this.requireFile(path);
    return createReadStream(file.realPath);
  }

  private async requireFile(path: string): Promise<ResolvedFile> {
    const file = await this.resolveInside(path);
    if (!file) throw missingFile(this, path);
    return file;
  }

  /**
   * Resolves a relative path to a regular file inside the folder. A symbolic
   * link may point elsewhere inside the folder, as `docker save` output does,
   * but never outside it: a blob must not serve a file the folder does not
   * contain, even for the moment before its digest check fails.
   */
  private async resolveInside(path: string): Promise<ResolvedFile | undefined> {
    let realPath: string;
    try {
      realPath = await realpath(join(this.root, path));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }

    if (!isInside(this.root, realPath)) {
      throw new RegdavError(
        "FORBIDDEN",
        `${path} in ${this.location} links to ${realPath}, outside the folder`,
      );
    }
    const info = await stat(realPath);
    return info.isFile() ? { realPath, size: info.size } : undefined;
  }
}

/** Returns whether `path` is `root` or a path below it. */
function isInside(root: string, path: string): boolean {
  const fromRoot = relative(root, path);
  return fromRoot !== ".." && !fromRoot.startsWith(`..${sep}`) && !isAbsolute(fromRoot);
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
