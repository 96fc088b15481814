import { readFile } from "node:fs/promises";

import { log } from "../log.js";
import {
  parseManifest,
  type ArtifactManifest,
  type ImageManifest,
  type IndexManifest,
  type ParsedManifest,
} from "../manifest/parse.js";
import {
  formatPlatform,
  hasUsablePlatform,
  indexEntryFolderNames,
  selectPlatformEntry,
} from "../manifest/platform.js";
import type { BlobDescriptor, FetchedManifest } from "../source/image-source.js";
import { downloadBlob } from "./blob-file.js";
import type { FolderDescription, IndexEntrySummary, LayerSummary } from "./folder-description.js";
import { summarizeConfig, summarizeSchema1, type ConfigSummary } from "./image-config-summary.js";
import type { ImageLocation } from "./image-folder.js";
import { layerFileName, layerFolderName } from "./layer-names.js";

/** Largest config read for a description, in bytes; real configs are a few KiB. */
const MAX_DESCRIBED_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * Describes the image folder at `path` for its browser page. It reads the
 * config blob, which is downloaded into the cache on first use, and for an
 * index the manifest of the platform the folder shows, which the folder
 * fetched already. A config that cannot be read leaves its fields out
 * instead of failing the page.
 */
export async function describeImageFolder(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: ParsedManifest,
  path: readonly string[],
): Promise<FolderDescription> {
  const reference = referenceOf(location, manifest.digest, path);
  if (parsed.kind !== "index") return describeManifest(location, manifest, parsed, reference);

  const description = baseDescription(parsed, manifest, reference);
  description.entries = indexEntries(parsed);
  const chosen = selectPlatformEntry(parsed.manifests, location.context.platform);
  if (chosen) {
    const child = await location.source.getManifest(location.repository, chosen.digest);
    const childParsed = parseManifest(child, location.repository);
    if (childParsed.kind !== "index") {
      const childReference = `${location.source.name}/${location.repository}@${child.digest}`;
      description.platformImage = await describeManifest(
        location,
        child,
        childParsed,
        childReference,
      );
    }
  }
  return description;
}

/**
 * Returns `registry/repository:tag` for a folder directly in `_tags/`, else
 * `registry/repository@digest`.
 */
function referenceOf(location: ImageLocation, digest: string, path: readonly string[]): string {
  const name = `${location.source.name}/${location.repository}`;
  const tag = path.at(-2) === "_tags" ? path.at(-1) : undefined;
  return tag === undefined ? `${name}@${digest}` : `${name}:${tag}`;
}

async function describeManifest(
  location: ImageLocation,
  manifest: FetchedManifest,
  parsed: Exclude<ParsedManifest, IndexManifest>,
  reference: string,
): Promise<FolderDescription> {
  const description = baseDescription(parsed, manifest, reference);
  const config =
    parsed.kind === "schema1" ? summarizeSchema1(parsed) : await readConfig(location, parsed);

  description.layers = parsed.layers.map((layer, offset) =>
    layerSummary(offset + 1, layer, parsed.kind !== "artifact", config?.layerHistory[offset]),
  );
  if (parsed.kind !== "schema1") {
    description.totalSize = parsed.layers.reduce(
      (sum, layer) => sum + layer.size,
      parsed.config.size,
    );
  }
  if (parsed.kind === "artifact" && parsed.artifactType) {
    description.artifactType = parsed.artifactType;
  }
  if (config) Object.assign(description, configFields(config));
  return description;
}

function baseDescription(
  parsed: ParsedManifest,
  manifest: FetchedManifest,
  reference: string,
): FolderDescription {
  return {
    kind: parsed.kind,
    reference,
    digest: manifest.digest,
    mediaType: parsed.mediaType,
    environment: [],
    layers: [],
    entries: [],
  };
}

function configFields(config: ConfigSummary): Partial<FolderDescription> {
  const fields: Partial<FolderDescription> = { environment: config.environment };
  if (config.created) fields.created = config.created;
  if (config.platform) fields.platform = config.platform;
  if (config.entrypoint) fields.entrypoint = config.entrypoint;
  if (config.command) fields.command = config.command;
  if (config.workingDir) fields.workingDir = config.workingDir;
  if (config.user) fields.user = config.user;
  return fields;
}

function layerSummary(
  position: number,
  layer: BlobDescriptor & { mediaType: string },
  withFolder: boolean,
  history: ConfigSummary["layerHistory"][number] | undefined,
): LayerSummary {
  const summary: LayerSummary = {
    fileName: layerFileName(position, layer),
    digest: layer.digest,
    mediaType: layer.mediaType,
  };
  if (withFolder) summary.folderName = layerFolderName(position, layer);
  if (layer.size !== undefined) summary.size = layer.size;
  if (history?.createdBy !== undefined) summary.createdBy = history.createdBy;
  if (history?.historyIndex !== undefined) summary.historyIndex = history.historyIndex;
  return summary;
}

function indexEntries(index: IndexManifest): IndexEntrySummary[] {
  const names = indexEntryFolderNames(index.manifests);
  return index.manifests.map((entry, position) => {
    const summary: IndexEntrySummary = {
      folderName: names[position]!,
      digest: entry.digest,
      mediaType: entry.mediaType,
      size: entry.size,
    };
    if (hasUsablePlatform(entry)) summary.platform = formatPlatform(entry.platform);
    return summary;
  });
}

/** Reads an image's or artifact's config from the blob cache; undefined when that fails. */
async function readConfig(
  location: ImageLocation,
  parsed: ImageManifest | ArtifactManifest,
): Promise<ConfigSummary | undefined> {
  const config = parsed.config;
  if (config.size > MAX_DESCRIBED_CONFIG_BYTES) return undefined;
  try {
    const file = await downloadBlob(location.context, location.source, location.repository, config);
    return summarizeConfig(await readFile(file, "utf8"));
  } catch (error) {
    log.warn("could not read the config for a folder description", {
      repository: `${location.source.name}/${location.repository}`,
      digest: config.digest,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
