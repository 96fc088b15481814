import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { sha256Digest } from "./image-builder.js";
import { pushBlob, pushManifest, type PushOptions } from "./registry-http.js";
import { credsArgument, runSkopeo } from "./skopeo.js";
import { repoRoot } from "./tools.js";

/**
 * Copies one tag of an OCI layout folder to `host/repository:tag` with
 * skopeo: every platform, with the manifest bytes unchanged (`--all
 * --preserve-digests`).
 */
export async function pushOciLayout(
  layoutDir: string,
  tag: string,
  host: string,
  repository: string,
  options: PushOptions = {},
): Promise<void> {
  const args = ["--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false"];
  if (options.credentials) args.push("--dest-creds", credsArgument(options.credentials));
  args.push(`oci:${layoutDir}:${tag}`, `docker://${host}/${repository}:${tag}`);
  await runSkopeo([], "copy", args);
}

export interface LayoutDescriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
}

interface LayoutDocument {
  mediaType?: string;
  manifests?: LayoutDescriptor[];
  config?: LayoutDescriptor;
  layers?: LayoutDescriptor[];
}

/**
 * Pushes one manifest of an OCI layout byte for byte, without skopeo: first
 * the blobs and child manifests it names (recursively, each child under its
 * digest), then the manifest itself under `reference`. The `subject` of a
 * manifest is not followed. Returns the digest the registry reports.
 */
export async function pushLayoutManifest(
  layoutDir: string,
  descriptor: LayoutDescriptor,
  host: string,
  repository: string,
  reference: string,
  options: PushOptions = {},
): Promise<string> {
  const bytes = await readLayoutBlob(layoutDir, descriptor.digest);
  const document = JSON.parse(bytes.toString("utf8")) as LayoutDocument;

  for (const child of document.manifests ?? []) {
    await pushLayoutManifest(layoutDir, child, host, repository, child.digest, options);
  }
  const blobs = [...(document.config ? [document.config] : []), ...(document.layers ?? [])];
  for (const blob of blobs) {
    await pushBlob(host, repository, await readLayoutBlob(layoutDir, blob.digest), options);
  }

  const mediaType = document.mediaType ?? descriptor.mediaType;
  if (mediaType === undefined) {
    throw new Error(`manifest ${descriptor.digest} in ${layoutDir} has no media type`);
  }
  return pushManifest(host, repository, reference, bytes, mediaType, options);
}

/** Reads a blob of an OCI layout and checks that it matches its digest. */
async function readLayoutBlob(layoutDir: string, digest: string): Promise<Buffer> {
  const [algorithm, hex] = digest.split(":");
  if (algorithm !== "sha256" || hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`unsupported or invalid digest ${JSON.stringify(digest)} in ${layoutDir}`);
  }
  const bytes = await readFile(join(layoutDir, "blobs", algorithm, hex));
  if (sha256Digest(bytes) !== digest) {
    throw new Error(`blob ${digest} in ${layoutDir} does not match its digest`);
  }
  return bytes;
}

/** The regclient test layout: CI places the shared folder beside the repository clone. */
export const regclientLayoutDir = join(
  repoRoot,
  "..",
  "shared",
  "fixtures",
  "regclient",
  "testrepo",
);

/** The repository `pushRegclientFixtures` pushes into. */
export const regclientRepository = "regclient/testrepo";

export interface FixturePushReport {
  /** Tags that skopeo copied. */
  copiedBySkopeo: string[];
  /**
   * Tags that skopeo rejected, with its error message. Each was then pushed
   * byte for byte by `pushLayoutManifest`.
   */
  rejectedBySkopeo: { tag: string; error: string }[];
  /** Digests of untagged index.json entries, pushed under their digest by `pushLayoutManifest`. */
  untagged: string[];
}

/**
 * Pushes every entry of the read-only regclient layout's index.json into
 * `regclient/testrepo`. Each tag (an `org.opencontainers.image.ref.name`
 * annotation) is copied by skopeo, or by `pushLayoutManifest` when skopeo
 * rejects it. Entries without a tag are pushed under their digest. Afterwards
 * the registry serves every manifest of the index with its original digest.
 * Throws when a tag fails both ways.
 */
export async function pushRegclientFixtures(
  host: string,
  options: PushOptions = {},
): Promise<FixturePushReport> {
  const entries = await readLayoutIndex(regclientLayoutDir);
  const report: FixturePushReport = { copiedBySkopeo: [], rejectedBySkopeo: [], untagged: [] };
  const pushedTags = new Set<string>();

  for (const entry of entries) {
    const tag = entry.annotations?.["org.opencontainers.image.ref.name"];
    if (tag === undefined) {
      await pushLayoutManifest(
        regclientLayoutDir,
        entry,
        host,
        regclientRepository,
        entry.digest,
        options,
      );
      report.untagged.push(entry.digest);
      continue;
    }
    if (pushedTags.has(tag)) continue;
    pushedTags.add(tag);

    try {
      await pushOciLayout(regclientLayoutDir, tag, host, regclientRepository, options);
      report.copiedBySkopeo.push(tag);
    } catch (error) {
      report.rejectedBySkopeo.push({
        tag,
        error: error instanceof Error ? error.message : String(error),
      });
      await pushLayoutManifest(regclientLayoutDir, entry, host, regclientRepository, tag, options);
    }
  }
  return report;
}

/** Returns the descriptors listed in an OCI layout's index.json, in order. */
export async function readLayoutIndex(layoutDir: string): Promise<LayoutDescriptor[]> {
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as LayoutDocument;
  return index.manifests ?? [];
}

/** Returns the tags of an OCI layout, in index.json order, without repeats. */
export async function readLayoutTags(layoutDir: string): Promise<string[]> {
  const tags = (await readLayoutIndex(layoutDir))
    .map((descriptor) => descriptor.annotations?.["org.opencontainers.image.ref.name"])
    .filter((tag): tag is string => tag !== undefined);
  return [...new Set(tags)];
}
