import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { isDigest } from "../reference/digest.js";
import { blobPathOf } from "./layout-blobs.js";
import { readJsonFile, type LayoutStorage } from "./layout-storage.js";
import { maxManifestBytes, readStoredManifest } from "./stored-manifest.js";

/**
 * The `oci-layout` and `index.json` files of an OCI image layout, and the
 * walk through nested indexes that finds every manifest the layout refers to.
 */

/** A descriptor from an image index, with the fields a layout source uses. */
export interface IndexDescriptor {
  digest: string;
  mediaType?: string;
  size?: number;
  annotations: Record<string, string>;
}

const indexMediaTypes = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

/** Checks `oci-layout` and returns the descriptors of `index.json`. Throws naming the file at fault. */
export async function readLayoutIndex(storage: LayoutStorage): Promise<IndexDescriptor[]> {
  const layout = await readJsonFile(storage, "oci-layout", 64 * 1024);
  const version = (layout as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (typeof version !== "string") {
    throw new RegdavError(
      "INVALID_MANIFEST",
      `oci-layout in ${storage.location} has no imageLayoutVersion`,
    );
  }

  const index = await readJsonFile(storage, "index.json", maxManifestBytes);
  const descriptors = descriptorsOf(index, `index.json in ${storage.location}`);
  if (descriptors === undefined) {
    throw new RegdavError(
      "INVALID_MANIFEST",
      `index.json in ${storage.location} has no manifests array`,
    );
  }
  return descriptors;
}

/**
 * Returns the valid descriptors of an index body's `manifests`, or undefined
 * when it has no such array. Invalid entries are skipped with a warning.
 */
export function descriptorsOf(body: unknown, where: string): IndexDescriptor[] | undefined {
  const entries = (body as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(entries)) return undefined;

  const descriptors: IndexDescriptor[] = [];
  entries.forEach((entry: unknown, position) => {
    const descriptor = parseDescriptor(entry);
    if (descriptor) descriptors.push(descriptor);
    else log.warn("skipping invalid descriptor in image index", { where, position });
  });
  return descriptors;
}

function parseDescriptor(entry: unknown): IndexDescriptor | undefined {
  const fields = (entry ?? {}) as Record<string, unknown>;
  if (typeof fields.digest !== "string" || !isDigest(fields.digest)) return undefined;

  const descriptor: IndexDescriptor = {
    digest: fields.digest,
    annotations: stringRecord(fields.annotations),
  };
  if (typeof fields.mediaType === "string") descriptor.mediaType = fields.mediaType;
  if (Number.isSafeInteger(fields.size) && (fields.size as number) >= 0) {
    descriptor.size = fields.size as number;
  }
  return descriptor;
}

function stringRecord(value: unknown): Record<string, string> {
  const record: Record<string, string> = {};
  if (typeof value !== "object" || value === null) return record;
  for (const [key, text] of Object.entries(value)) {
    if (typeof text === "string") record[key] = text;
  }
  return record;
}

/**
 * Walks from the descriptors of `index.json` through every nested index and
 * returns each manifest descriptor found, by digest, the first one found
 * winning. A child that is missing or invalid is logged and skipped, so the
 * rest stay reachable. A visited set ends index loops.
 */
export async function collectManifestDescriptors(
  storage: LayoutStorage,
  top: readonly IndexDescriptor[],
): Promise<Map<string, IndexDescriptor>> {
  const found = new Map<string, IndexDescriptor>();
  const queue = [...top];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (found.has(next.digest)) continue;
    found.set(next.digest, next);
    if (next.mediaType !== undefined && indexMediaTypes.has(next.mediaType)) {
      queue.push(...(await readChildren(storage, next)));
    }
  }
  return found;
}

async function readChildren(
  storage: LayoutStorage,
  index: IndexDescriptor,
): Promise<IndexDescriptor[]> {
  try {
    const hint = { ...index, referenced: true };
    const manifest = await readStoredManifest(
      storage,
      blobPathOf(index.digest),
      storage.location,
      hint,
    );
    return (
      descriptorsOf(JSON.parse(manifest.bytes.toString("utf8")), `index ${index.digest}`) ?? []
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log.debug("skipping unreadable nested index", {
      location: storage.location,
      digest: index.digest,
      error: message,
    });
    return [];
  }
}
