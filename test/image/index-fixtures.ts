import { expect } from "vitest";

import type { FilesystemView } from "../../src/image/filesystem-view.js";
import {
  LAYER_INDEX_VERSION,
  type LayerEntry,
  type LayerIndex,
} from "../../src/layer/layer-index.js";

/** Hand-written layer indexes for view tests. Offsets are arbitrary markers, not tar offsets. */

export const MODIFIED = 1_650_000_000_000;

export function file(path: string, dataOffset: number, size = 10): LayerEntry {
  return { path, type: "file", size, mode: 0o644, modified: MODIFIED, dataOffset };
}

export function dir(path: string, mode = 0o755): LayerEntry {
  return { path, type: "directory", size: 0, mode, modified: MODIFIED };
}

export function symlink(path: string, target: string): LayerEntry {
  return { path, type: "symlink", size: 0, mode: 0o777, modified: MODIFIED, linkTarget: target };
}

/** Builds a hardlink. `resolved` gives it content, as the indexer does for an earlier target. */
export function hardlink(
  path: string,
  target: string,
  resolved?: { dataOffset: number; size: number },
): LayerEntry {
  const link: LayerEntry = { path, type: "hardlink", size: 0, mode: 0o644, modified: MODIFIED };
  return { ...link, linkTarget: target, ...resolved };
}

export function layer(
  entries: LayerEntry[],
  markers: { whiteouts?: string[]; opaque?: string[] } = {},
): LayerIndex {
  return {
    version: LAYER_INDEX_VERSION,
    digest: "sha256:" + "cd".repeat(32),
    diffId: "sha256:" + "ef".repeat(32),
    compression: "none",
    compressedSize: 0,
    uncompressedSize: 0,
    entryCount: entries.length,
    entries,
    whiteouts: markers.whiteouts ?? [],
    opaqueDirectories: markers.opaque ?? [],
  };
}

export function segments(path: string): string[] {
  return path === "" ? [] : path.split("/");
}

/** Lists the names in a folder, sorted, so tests do not depend on insertion order. */
export function namesIn(view: FilesystemView, path: string): string[] {
  return view
    .list(segments(path))
    .map((node) => node.name)
    .sort();
}

/** Formats the content location of a file as `layerIndex:dataOffset:size`, or returns "missing". */
export function contentAt(view: FilesystemView, path: string): string {
  try {
    const node = view.lookup(segments(path));
    const content = node.content;
    return content ? `${content.layerIndex}:${content.dataOffset}:${content.size}` : node.type;
  } catch {
    return "missing";
  }
}

export function expectMissing(view: FilesystemView, path: string): void {
  expect(() => view.lookup(segments(path))).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
}
