import { createHash } from "node:crypto";
import { posix } from "node:path";

import { log } from "../log.js";
import { computeDigest, isDigest } from "../reference/digest.js";
import { DigestMismatchError } from "../reference/digest-verifier.js";
import type { FetchedManifest } from "./image-source.js";
import type { DockerSaveEntry } from "./docker-save-manifest.js";
import { statStoredBlob } from "./layout-blobs.js";
import type { LayoutStorage } from "./layout-storage.js";

/**
 * The Docker schema 2 manifest that regdav builds for each image of a
 * `docker save` archive, which stores no manifest of its own. Its bytes
 * depend only on the archive's content, so its digest is the same every time.
 */

export const dockerManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json";
const dockerConfigMediaType = "application/vnd.docker.container.image.v1+json";

const layerMediaTypes = {
  tar: "application/vnd.docker.image.rootfs.diff.tar",
  gzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  // Not in Docker's schema 2 specification: the name containerd gives zstd layers.
  zstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
};

/** Max size of an image configuration, which is read into memory to hash it. */
const maxConfigBytes = 32 * 1024 * 1024;

interface Descriptor {
  mediaType: string;
  size: number;
  digest: string;
}

/** A synthesized manifest and the member path of each blob it lists. */
export interface ArchiveImage {
  manifest: FetchedManifest;
  blobPaths: Map<string, string>;
}

/** Builds the manifest of one `manifest.json` entry. Throws naming the member at fault. */
export async function describeArchiveImage(
  storage: LayoutStorage,
  entry: DockerSaveEntry,
): Promise<ArchiveImage> {
  const { descriptor: config, diffIds } = await describeConfig(storage, entry.config);
  const blobPaths = new Map([[config.digest, entry.config]]);
  const layers: Descriptor[] = [];
  for (const [position, path] of entry.layers.entries()) {
    const diffId = diffIds.length === entry.layers.length ? diffIds[position] : undefined;
    const layer = await describeLayer(storage, path, diffId);
    blobPaths.set(layer.digest, path);
    layers.push(layer);
  }

  const bytes = Buffer.from(JSON.stringify(manifestBody(config, layers), null, 3));
  const manifest = { digest: computeDigest(bytes), mediaType: dockerManifestMediaType, bytes };
  return { manifest, blobPaths };
}

/** Returns the manifest fields in a fixed order, which keeps the bytes stable. */
function manifestBody(config: Descriptor, layers: Descriptor[]) {
  const descriptor = (blob: Descriptor) => ({
    mediaType: blob.mediaType,
    size: blob.size,
    digest: blob.digest,
  });
  return {
    schemaVersion: 2,
    mediaType: dockerManifestMediaType,
    config: descriptor(config),
    layers: layers.map(descriptor),
  };
}

/**
 * Hashes the configuration. A member named by its digest must hash to it,
 * else the image's manifest fails with DIGEST_MISMATCH. Archives name the
 * config by digest in two ways: `<hex>.json` (skopeo 1.9, and docker save
 * before version 25, whose image ID is the config's sha256) and
 * `blobs/sha256/<hex>` (docker save since version 25).
 */
async function describeConfig(storage: LayoutStorage, path: string) {
  const bytes = await storage.readFile(path, maxConfigBytes);
  const digest = computeDigest(bytes);
  const named = digestOfConfigPath(path);
  if (named !== undefined && named !== digest) {
    throw new DigestMismatchError(`image configuration ${path}`, named, digest, storage.location);
  }

  const descriptor = { mediaType: dockerConfigMediaType, size: bytes.length, digest };
  return { descriptor, diffIds: diffIdsOf(bytes) };
}

function diffIdsOf(configBytes: Buffer): string[] {
  try {
    const config = JSON.parse(configBytes.toString("utf8")) as { rootfs?: { diff_ids?: unknown } };
    const diffIds = config.rootfs?.diff_ids;
    return Array.isArray(diffIds) && diffIds.every((id) => typeof id === "string" && isDigest(id))
      ? diffIds
      : [];
  } catch {
    return [];
  }
}

/**
 * Describes a layer member as stored. Its digest is taken without reading
 * the whole member where the archive states it: from a `blobs/<alg>/<hex>`
 * name, or for an uncompressed layer from the config's diff_id, which is by
 * definition the digest of the uncompressed tar. Either way a member that
 * does not match fails with DIGEST_MISMATCH when its blob is read. Other
 * members, such as gzip-compressed ones, are hashed here.
 */
async function describeLayer(
  storage: LayoutStorage,
  path: string,
  diffId: string | undefined,
): Promise<Descriptor> {
  const size = await statStoredBlob(storage, path);
  const mediaType = layerMediaTypeOf(await readHead(storage, path));
  const stated = digestOfBlobPath(path) ?? (mediaType === layerMediaTypes.tar ? diffId : undefined);
  return { mediaType, size, digest: stated ?? (await hashMember(storage, path, size)) };
}

const gzipMagic = Buffer.from([0x1f, 0x8b]);
const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Returns the layer media type for a member's first bytes, by the magic
 * numbers of gzip and zstd.
 * NOTE: xz and bzip2 layers, which docker load also accepts, are reported as
 * plain tar, and their diff_id is then taken as their digest, so reading them
 * fails with DIGEST_MISMATCH.
 */
export function layerMediaTypeOf(head: Buffer): string {
  if (head.subarray(0, gzipMagic.length).equals(gzipMagic)) return layerMediaTypes.gzip;
  if (head.subarray(0, zstdMagic.length).equals(zstdMagic)) return layerMediaTypes.zstd;
  return layerMediaTypes.tar;
}

/** Returns the digest that a member named `blobs/<alg>/<hex>` states, or undefined for other names. */
function digestOfBlobPath(path: string): string | undefined {
  const match = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(path);
  const digest = match ? `${match[1]}:${match[2]}` : undefined;
  return digest !== undefined && isDigest(digest) ? digest : undefined;
}

/** Returns the digest that a configuration's name states: `blobs/<alg>/<hex>` or `<64 hex>.json`. */
function digestOfConfigPath(path: string): string | undefined {
  const match = /^([a-f0-9]{64})\.json$/.exec(posix.basename(path));
  return digestOfBlobPath(path) ?? (match ? `sha256:${match[1]}` : undefined);
}

async function readHead(storage: LayoutStorage, path: string): Promise<Buffer> {
  const stream = await storage.openFile(path);
  try {
    for await (const chunk of stream) return chunk as Buffer;
    return Buffer.alloc(0);
  } finally {
    stream.destroy();
  }
}

async function hashMember(storage: LayoutStorage, path: string, size: number): Promise<string> {
  const started = Date.now();
  const hash = createHash("sha256");
  for await (const chunk of await storage.openFile(path)) hash.update(chunk as Buffer);

  const digest = `sha256:${hash.digest("hex")}`;
  log.info("hashed image archive layer", {
    location: storage.location,
    member: path,
    digest,
    bytes: size,
    ms: Date.now() - started,
  });
  return digest;
}
