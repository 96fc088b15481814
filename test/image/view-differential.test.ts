import { describe, expect, it } from "vitest";

import { normalizeEntryPath } from "../../src/layer/entry-path.js";
import type { LayerEntry, LayerIndex } from "../../src/layer/layer-index.js";
import { generateLayerStack } from "./random-layer-stack.js";
import { checkSeed } from "./view-differential-harness.js";

/**
 * Compares src/image/ with the frozen in-memory merge in reference-view/ on
 * random layer stacks. A failure names its seed. To run that seed alone, set
 * VIEW_DIFF_SEED:
 *
 *   VIEW_DIFF_SEED=1234 npx vitest run test/image/view-differential.test.ts
 */

const SEED_COUNT = 2000;
const SEEDS_PER_TEST = 100;

const singleSeed = process.env.VIEW_DIFF_SEED;

describe("image views against the reference merge", () => {
  if (singleSeed !== undefined) {
    it(`matches for seed ${singleSeed}`, () => {
      const seed = Number(singleSeed);
      const message = `VIEW_DIFF_SEED must be an integer, got "${singleSeed}"`;
      expect(Number.isSafeInteger(seed), message).toBe(true);
      checkSeed(seed);
    });
    return;
  }

  for (let first = 0; first < SEED_COUNT; first += SEEDS_PER_TEST) {
    const last = first + SEEDS_PER_TEST - 1;
    it(`matches for seeds ${first} to ${last}`, () => {
      for (let seed = first; seed <= last; seed++) checkSeed(seed);
    });
  }
});

/** Counts of the hard cases in the generated stacks, to show the seeds reach them. */
interface StackFeatureCounts {
  fiveLayerStacks: number;
  resolvedHardlinks: number;
  hardlinksToLaterEntries: number;
  hardlinksToHardlinks: number;
  hardlinksToFoldersOrSymlinks: number;
  entriesBelowFilesOrSymlinks: number;
  whiteouts: number;
  rootOpaqueMarkers: number;
  absoluteSymlinks: number;
  selfSymlinks: number;
  /** Layers with a chain of at least 39 symlinks, near the limit of 40 hops. */
  longSymlinkChains: number;
}

/**
 * Returns the number of links in the longest chain of a layer's symlinks
 * that point at each other's paths, each link counted once, so that a loop
 * ends the chain. Symlinks in the middle of a target path are not followed.
 */
function longestSymlinkChain(index: LayerIndex): number {
  const targets = new Map<string, string>();
  for (const entry of index.entries) {
    if (entry.type !== "symlink") continue;
    const target = entry.linkTarget ?? "";
    const parent = entry.path.slice(0, entry.path.lastIndexOf("/") + 1);
    const start = target.startsWith("/") ? "" : parent;
    targets.set(entry.path, normalizeEntryPath(`${start}${target}`));
  }

  let longest = 0;
  for (const first of targets.keys()) {
    const chain = new Set<string>();
    for (let path = first; targets.has(path) && !chain.has(path); path = targets.get(path)!) {
      chain.add(path);
    }
    longest = Math.max(longest, chain.size);
  }
  return longest;
}

function countStackFeatures(stack: readonly LayerIndex[], counts: StackFeatureCounts): void {
  if (stack.length === 5) counts.fiveLayerStacks++;
  for (const index of stack) {
    const entries = new Map<string, { entry: LayerEntry; position: number }>();
    index.entries.forEach((entry, position) => entries.set(entry.path, { entry, position }));
    counts.whiteouts += index.whiteouts.length;
    if (index.opaqueDirectories.includes("")) counts.rootOpaqueMarkers++;
    if (longestSymlinkChain(index) >= 39) counts.longSymlinkChains++;

    index.entries.forEach((entry, position) => {
      const slash = entry.path.lastIndexOf("/");
      const parent = slash < 0 ? undefined : entries.get(entry.path.slice(0, slash));
      if (parent && parent.entry.type !== "directory") counts.entriesBelowFilesOrSymlinks++;

      if (entry.type === "symlink") {
        if (entry.linkTarget?.startsWith("/")) counts.absoluteSymlinks++;
        const base = entry.path.slice(slash + 1);
        const pointsAtItself = entry.linkTarget === base || entry.linkTarget === `/${entry.path}`;
        if (pointsAtItself) counts.selfSymlinks++;
      }
      if (entry.type !== "hardlink") return;
      if (entry.dataOffset !== undefined) counts.resolvedHardlinks++;
      const target = entries.get(entry.linkTarget ?? "");
      if (target === undefined) return;
      if (target.position > position) counts.hardlinksToLaterEntries++;
      if (target.entry.type === "hardlink") counts.hardlinksToHardlinks++;
      if (target.entry.type === "directory" || target.entry.type === "symlink") {
        counts.hardlinksToFoldersOrSymlinks++;
      }
    });
  }
}

describe("random layer stacks", () => {
  it("reach each hard case", () => {
    const counts: StackFeatureCounts = {
      fiveLayerStacks: 0,
      resolvedHardlinks: 0,
      hardlinksToLaterEntries: 0,
      hardlinksToHardlinks: 0,
      hardlinksToFoldersOrSymlinks: 0,
      entriesBelowFilesOrSymlinks: 0,
      whiteouts: 0,
      rootOpaqueMarkers: 0,
      absoluteSymlinks: 0,
      selfSymlinks: 0,
      longSymlinkChains: 0,
    };
    for (let seed = 0; seed < SEED_COUNT; seed++) {
      countStackFeatures(generateLayerStack(seed), counts);
    }

    for (const [feature, count] of Object.entries(counts)) {
      expect(count, `${feature} across ${SEED_COUNT} seeds`).toBeGreaterThanOrEqual(50);
    }
  });
});
