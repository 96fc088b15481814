import { isDigest } from "../reference/digest.js";
import type { Descriptor, IndexEntry, Platform } from "./manifest-types.js";

/**
 * Readers for the JSON fields of manifests. Each checks the type of what it
 * reads and throws ManifestShapeError with the field's path, such as
 * `layers[2].digest`, which parseManifest turns into INVALID_MANIFEST.
 */
export class ManifestShapeError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path} ${problem}` : problem);
    this.name = "ManifestShapeError";
  }
}

export type JsonObject = Record<string, unknown>;

export function expectObject(value: unknown, path: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ManifestShapeError(path, "is not a JSON object");
  }
  return value as JsonObject;
}

export function expectArray(value: unknown, path: string): unknown[] {
  if (value === undefined) throw new ManifestShapeError(path, "is missing");
  if (!Array.isArray(value)) throw new ManifestShapeError(path, "is not an array");
  return value;
}

export function requiredString(object: JsonObject, key: string, path: string): string {
  const value = object[key];
  if (value === undefined) throw new ManifestShapeError(join(path, key), "is missing");
  if (typeof value !== "string") throw new ManifestShapeError(join(path, key), "is not a string");
  return value;
}

export function optionalString(object: JsonObject, key: string, path: string): string | undefined {
  return object[key] === undefined ? undefined : requiredString(object, key, path);
}

export function optionalStringList(object: JsonObject, key: string, path: string) {
  const value = object[key];
  if (value === undefined) return undefined;
  return expectArray(value, join(path, key)).map((item, index) => {
    if (typeof item !== "string")
      throw new ManifestShapeError(`${join(path, key)}[${index}]`, "is not a string");
    return item;
  });
}

/** Reads an annotation map, whose values must all be strings; absent gives `{}`. */
export function readAnnotations(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  const object = expectObject(value, path);
  for (const [key, item] of Object.entries(object)) {
    if (typeof item !== "string") throw new ManifestShapeError(`${path}.${key}`, "is not a string");
  }
  return object as Record<string, string>;
}

/** Reads a descriptor: a valid sha256 or sha512 digest and a non-negative integer size. */
export function readDescriptor(value: unknown, path: string): Descriptor {
  const object = expectObject(value, path);
  const digest = requiredString(object, "digest", path);
  if (!isDigest(digest)) {
    throw new ManifestShapeError(
      join(path, "digest"),
      `${JSON.stringify(digest)} is not a sha256 or sha512 digest`,
    );
  }

  const size = object.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new ManifestShapeError(join(path, "size"), "is not a non-negative integer");
  }

  const descriptor: Descriptor = {
    mediaType: requiredString(object, "mediaType", path),
    digest,
    size,
  };
  const urls = optionalStringList(object, "urls", path);
  if (urls !== undefined) descriptor.urls = urls;
  if (object.annotations !== undefined) {
    descriptor.annotations = readAnnotations(object.annotations, join(path, "annotations"));
  }
  const artifactType = optionalString(object, "artifactType", path);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  return descriptor;
}

export function readDescriptorList(value: unknown, path: string): Descriptor[] {
  return expectArray(value, path).map((item, index) => readDescriptor(item, `${path}[${index}]`));
}

export function readIndexEntry(value: unknown, path: string): IndexEntry {
  const entry: IndexEntry = readDescriptor(value, path);
  const platform = (value as JsonObject).platform;
  if (platform !== undefined) entry.platform = readPlatform(platform, join(path, "platform"));
  return entry;
}

/** Reads a platform. A missing `os` or `architecture` is read as empty, which names nothing. */
export function readPlatform(value: unknown, path: string): Platform {
  const object = expectObject(value, path);
  const platform: Platform = {
    os: optionalString(object, "os", path) ?? "",
    architecture: optionalString(object, "architecture", path) ?? "",
  };

  const variant = optionalString(object, "variant", path);
  if (variant !== undefined) platform.variant = variant;
  const osVersion = optionalString(object, "os.version", path);
  if (osVersion !== undefined) platform.osVersion = osVersion;
  const osFeatures = optionalStringList(object, "os.features", path);
  if (osFeatures !== undefined) platform.osFeatures = osFeatures;
  const features = optionalStringList(object, "features", path);
  if (features !== undefined) platform.features = features;
  return platform;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
