import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { normalizeMemberName } from "./archive-tar-scan.js";
import { readJsonFile, type LayoutStorage } from "./layout-storage.js";

/**
 * The `manifest.json` of a `docker save` or `podman save` archive: an array
 * with one entry per image, `{"Config": path, "RepoTags": [names], "Layers":
 * [paths]}`, the layers listed bottom first. Paths are archive members, as
 * `<id>/layer.tar` and `<hex>.json` in the classic layout, or
 * `blobs/sha256/<hex>` in the OCI layout that docker save writes since
 * version 25.
 */

export interface DockerSaveEntry {
  /** Position in `manifest.json`, named in messages. */
  position: number;
  /** Member path of the image configuration. */
  config: string;
  /** Image names such as `alpine:3` or `ghcr.io/org/tool:v1`, empty for an untagged image. */
  repoTags: string[];
  /** Member paths of the layers, bottom first. */
  layers: string[];
}

/** Max size of `manifest.json`, which lists every image and is read into memory. */
const maxSaveManifestBytes = 16 * 1024 * 1024;

/**
 * Reads `manifest.json`. Throws INVALID_MANIFEST when it is not an array.
 * Invalid entries are skipped with a warning, so the other images stay readable.
 */
export async function readDockerSaveManifest(storage: LayoutStorage): Promise<DockerSaveEntry[]> {
  const body = await readJsonFile(storage, "manifest.json", maxSaveManifestBytes);
  if (!Array.isArray(body)) {
    throw new RegdavError(
      "INVALID_MANIFEST",
      `manifest.json in ${storage.location} is not a JSON array`,
    );
  }

  const entries: DockerSaveEntry[] = [];
  body.forEach((fields: unknown, position) => {
    const entry = parseEntry(fields, position);
    if (typeof entry !== "string") {
      entries.push(entry);
      return;
    }
    log.warn("skipping invalid image in manifest.json", {
      location: storage.location,
      position,
      problem: entry,
    });
  });
  return entries;
}

/** Returns the entry, or a description of what makes it invalid. */
function parseEntry(value: unknown, position: number): DockerSaveEntry | string {
  const fields = (value ?? {}) as Record<string, unknown>;
  const config = typeof fields.Config === "string" ? normalizeMemberName(fields.Config) : undefined;
  if (config === undefined) return "Config is not a member path";

  const layers = stringArray(fields.Layers)?.map(normalizeMemberName);
  if (layers === undefined || layers.some((layer) => layer === undefined)) {
    return "Layers is not a list of member paths";
  }

  const repoTags =
    fields.RepoTags === null || fields.RepoTags === undefined ? [] : stringArray(fields.RepoTags);
  if (repoTags === undefined) return "RepoTags is not a list of names";
  return { position, config, repoTags, layers: layers as string[] };
}

function stringArray(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) return undefined;
  return value as string[];
}
