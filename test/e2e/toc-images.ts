import { createHash } from "node:crypto";

import { makeImageConfig, makeJsonBlob, mediaTypes, type ImageBlob } from "../harness/image-builder.js";
import { pushBlob, pushManifest } from "../harness/push.js";
import { listEntries } from "./dav-client.js";

// Helpers shared by the end-to-end tests of layers with their own table of contents.

export interface ListedEntry {
  path: string;
  folder: boolean;
  size: number | undefined;
}

/** Lists a folder tree through PROPFIND, with each entry's type and size. */
export async function listTree(url: string, prefix = ""): Promise<ListedEntry[]> {
  const result: ListedEntry[] = [];
  for (const entry of await listEntries(url)) {
    const path = prefix + entry.name;
    result.push({ path, folder: entry.isFolder, size: entry.isFolder ? undefined : entry.size });
    if (entry.isFolder) result.push(...(await listTree(`${url}${encodeURIComponent(entry.name)}/`, `${path}/`)));
  }
  return result.sort((a, b) => a.path.localeCompare(b.path, "en"));
}

/** Returns the length of a closed `bytes=START-END` range header, as a request recorded by a proxy carries it. */
export function rangeBytes(range: string | undefined): number {
  const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
  if (!match) throw new Error(`not a closed byte range: ${range}`);
  return Number(match[2]) - Number(match[1]) + 1;
}

/** Returns the lowercase hex sha256 of `bytes`. */
export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Pushes a one-layer OCI image whose layer descriptor carries `annotations`. */
export async function pushAnnotatedImage(host: string, repository: string, layer: ImageBlob & { diffId: string }, annotations: Record<string, string>) {
  const config = makeImageConfig({ layers: [layer] });
  await pushBlob(host, repository, layer.bytes);
  await pushBlob(host, repository, config.bytes);
  const manifest = makeJsonBlob(mediaTypes.ociManifest, {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size, annotations }],
  });
  await pushManifest(host, repository, "v1", manifest.bytes, manifest.mediaType);
}
