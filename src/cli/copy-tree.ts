import { constants } from "node:fs";
import { lstat, mkdir, open, stat, utimes, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

import type { NodeInfo } from "../tree/virtual-tree.js";
import { EXIT_OTHER } from "./exit-codes.js";
import { joinDisplay } from "./tree-path.js";
import type { TreeSession } from "./tree-session.js";

/** Flags for files that cp writes: a symlink in their place is an error instead of being followed. */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export interface CopySource {
  segments: readonly string[];
  display: string;
  info: NodeInfo;
}

/**
 * Tests a name from the tree before it becomes part of a local path. Names
 * come from layers, which anyone can build, so a name that is empty, `.`,
 * `..`, or contains `/` or NUL could write outside the destination.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name === "" || name === "." || name === "..") return `the name ${JSON.stringify(name)} is not a file name`;
  if (name.includes("/")) return `the name ${JSON.stringify(name)} contains "/"`;
  if (name.includes("\0")) return `the name ${JSON.stringify(name)} contains NUL`;
  return undefined;
}

/**
 * Copies a file or a folder with everything below it to `target`, and sets
 * each file's and folder's modification time to the tree's. Only regular
 * files and folders are created, and never outside `target`. Unsafe names
 * are skipped and reported. A symlink found where a name goes is an error
 * rather than being followed, unless it is `target` itself and
 * `followTarget` is set, for a DEST that the user named. A failing entry is
 * reported on the session and the copy goes on.
 */
export async function copyTree(
  session: TreeSession,
  source: CopySource,
  target: string,
  followTarget: boolean,
): Promise<void> {
  if (source.info.type === "file") {
    await copyFile(session, source, target, followTarget);
    return;
  }
  await copyFolder(session, source, target, followTarget);
}

async function copyFolder(session: TreeSession, source: CopySource, target: string, followTarget: boolean) {
  await makeFolder(target, followTarget);
  const children = await session.list(source.segments);
  for (const child of children) {
    const unsafe = unsafeNameReason(child.name);
    if (unsafe) {
      session.reportMessage(`skipped an entry of ${source.display}: ${unsafe}`, EXIT_OTHER);
      continue;
    }
    const entry = {
      segments: [...source.segments, child.name],
      display: joinDisplay(source.display, child.name),
      info: child,
    };
    try {
      await copyTree(session, entry, join(target, child.name), false);
    } catch (error) {
      session.report(error);
    }
  }
  await utimes(target, source.info.modified, source.info.modified);
}

async function copyFile(session: TreeSession, source: CopySource, target: string, followTarget: boolean) {
  const content = await session.tree.read(source.segments);
  const flags = followTarget ? WRITE_FLAGS & ~constants.O_NOFOLLOW : WRITE_FLAGS;
  const file = await open(target, flags, 0o644).catch((error: NodeJS.ErrnoException) => {
    content.destroy();
    throw localError(error, target);
  });
  try {
    for await (const chunk of content) await writeAll(file, chunk as Buffer);
    await file.utimes(source.info.modified, source.info.modified);
  } finally {
    content.destroy();
    await file.close();
  }
}

/** Writes the whole chunk at the file's position, in several writes when one takes only a part. */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset);
    offset += bytesWritten;
  }
}

/**
 * Creates a folder, or accepts an existing one. An existing symlink is
 * accepted only when `follow` is set and it leads to a folder.
 */
async function makeFolder(path: string, follow: boolean): Promise<void> {
  try {
    await mkdir(path, { mode: 0o755 });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw localError(error, path);
  }
  const existing = await (follow ? stat(path) : lstat(path)).catch((error: unknown) => {
    throw localError(error, path);
  });
  if (existing.isDirectory()) return;
  const kind = existing.isSymbolicLink() ? "a symlink, which cp does not follow" : "not a folder";
  throw new Error(`cannot copy a folder to ${path}: it exists and is ${kind}`);
}

function localError(error: unknown, path: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return new Error(`cannot write ${path}: it is a symlink, which cp does not follow`);
  if (code === "EISDIR") return new Error(`cannot write the file ${path}: it exists as a folder`);
  return new Error(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
}
