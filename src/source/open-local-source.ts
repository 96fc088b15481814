import { stat } from "node:fs/promises";
import { resolve } from "node:path";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { ArchiveStorage } from "./archive-storage.js";
import { DockerArchiveSource } from "./docker-archive-source.js";
import { FolderStorage } from "./folder-storage.js";
import type { ImageSource, RepositoryLister } from "./image-source.js";
import { OciLayoutSource } from "./layout-source.js";
import { validateSourceName } from "./local-names.js";

/** A `--source NAME=PATH` option: the root folder name and the layout folder or archive it shows. */
export interface SourceOption {
  name: string;
  path: string;
}

export type LocalSource = ImageSource & RepositoryLister;

/**
 * Parses the value of `--source NAME=PATH`. Throws BAD_REQUEST naming the
 * value when it has no `=`, the path is empty or the name is invalid.
 */
export function parseSourceOption(value: string): SourceOption {
  const equals = value.indexOf("=");
  if (equals < 0) {
    throw new RegdavError(
      "BAD_REQUEST",
      `invalid --source ${JSON.stringify(value)}: use NAME=PATH, such as work=./image.tar`,
    );
  }

  const name = value.slice(0, equals);
  const path = value.slice(equals + 1);
  if (path === "") {
    throw new RegdavError(
      "BAD_REQUEST",
      `invalid --source ${JSON.stringify(value)}: the path is empty`,
    );
  }
  return { name: validateSourceName(name), path };
}

/**
 * Opens a local image source, choosing the kind by what `path` contains:
 *
 * - a folder with `oci-layout`: an OCI image layout;
 * - a folder with `manifest.json`: an extracted `docker save` archive;
 * - a tar with `manifest.json` at the top: a `docker save` archive, even
 *   when it also has `oci-layout`, as docker save writes both since version 25;
 * - a tar with `oci-layout` at the top: an OCI archive.
 *
 * Throws BAD_REQUEST naming the path and what it contains for anything else.
 */
export async function openLocalSource(name: string, path: string): Promise<LocalSource> {
  validateSourceName(name);
  const fullPath = resolve(path);
  const isFolder = await isFolderPath(fullPath);
  const [kind, source] = isFolder
    ? await openFolder(name, await FolderStorage.open(fullPath))
    : await openArchive(name, fullPath);

  const repositories = (await source.listRepositories()).length;
  log.info("opened local image source", { source: name, path: fullPath, kind, repositories });
  return source;
}

type OpenedSource = [kind: string, source: LocalSource];

async function isFolderPath(path: string): Promise<boolean> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === "ENOENT" ? notASource(path, "no such file or folder") : error;
  });
  if (!info.isDirectory() && !info.isFile()) {
    throw notASource(path, "it is neither a file nor a folder");
  }
  return info.isDirectory();
}

async function openFolder(name: string, storage: FolderStorage): Promise<OpenedSource> {
  if ((await storage.sizeOf("oci-layout")) !== undefined) {
    return ["OCI image layout", await OciLayoutSource.fromStorage(name, storage)];
  }
  if ((await storage.sizeOf("manifest.json")) !== undefined) {
    return ["docker save folder", await DockerArchiveSource.fromStorage(name, storage)];
  }
  throw notASource(
    storage.location,
    "the folder has neither oci-layout (an OCI image layout) nor manifest.json (docker save)",
  );
}

async function openArchive(name: string, path: string): Promise<OpenedSource> {
  const storage = await ArchiveStorage.open(path);
  if (storage.has("manifest.json")) {
    return ["docker save archive", await DockerArchiveSource.fromStorage(name, storage)];
  }
  if (storage.has("oci-layout")) {
    return ["OCI archive", await OciLayoutSource.fromStorage(name, storage)];
  }

  const found = storage.topLevelNames().slice(0, 10).join(", ") || "no members";
  throw notASource(
    path,
    `the tar has neither oci-layout nor manifest.json at the top; it contains ${found}`,
  );
}

function notASource(path: string, problem: string): RegdavError {
  return new RegdavError(
    "BAD_REQUEST",
    `${path} is not an OCI image layout, OCI archive or docker save archive: ${problem}`,
  );
}
