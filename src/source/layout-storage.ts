import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";

/**
 * Read access to the files of an image stored on this machine: a folder, or
 * the members of a tar archive. Paths are relative, with `/` separators and
 * no `./` prefix, such as `index.json` or `blobs/sha256/<hex>`.
 */
export interface LayoutStorage {
  /** The folder or archive path, named in messages. */
  readonly location: string;

  /** Returns the size in bytes of a file, or undefined when there is no such file. */
  sizeOf(path: string): Promise<number | undefined>;

  /**
   * Reads a whole file. Throws NOT_FOUND for a missing file, INVALID_MANIFEST
   * for one larger than `maxBytes`, and SIZE_MISMATCH for a truncated one.
   */
  readFile(path: string, maxBytes: number): Promise<Buffer>;

  /** Streams a file's bytes. Throws as `readFile` does, except for the size limit. */
  openFile(path: string): Promise<Readable>;
}

/** Creates the NOT_FOUND error for a file missing from a layout folder or archive. */
export function missingFile(storage: LayoutStorage, path: string, detail = ""): RegdavError {
  return new RegdavError("NOT_FOUND", `${path} not found in ${storage.location}${detail}`);
}

/** Creates the error for a file over the limit of what regdav reads into memory. */
export function fileTooLarge(storage: LayoutStorage, path: string, size: number, maxBytes: number) {
  return new RegdavError(
    "INVALID_MANIFEST",
    `${path} in ${storage.location} is ${size} bytes, more than the ${maxBytes} bytes regdav reads into memory`,
  );
}

/** Reads a file that must be JSON, such as `index.json`. Throws INVALID_MANIFEST naming it. */
export async function readJsonFile(
  storage: LayoutStorage,
  path: string,
  maxBytes: number,
): Promise<unknown> {
  const bytes = await storage.readFile(path, maxBytes);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RegdavError(
      "INVALID_MANIFEST",
      `${path} in ${storage.location} is not valid JSON: ${reason}`,
    );
  }
}
