import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { layerTreeFolders } from "../../src/image/layer-tree.js";
import { SpilledFolders } from "../../src/image/spilled-folders.js";
import type { LayerIndex } from "../../src/layer/layer-index.js";
import { layerRecordOf } from "../../src/layer/layer-record.js";
import { dir, file, hardlink, layer, symlink } from "./index-fixtures.js";
import { generateLayers } from "./random-layer-stack.js";

const folder = mkdtempSync(join(tmpdir(), "spilled-folders-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Creates a SpilledFolders that writes out every folder but the root after each entry. */
function spillingEverything(name: string): { folders: SpilledFolders; spillPath: string } {
  const spillPath = join(folder, name);
  return { folders: new SpilledFolders(spillPath, { budget: 0, entriesPerCheck: 1 }), spillPath };
}

/** Lists every member of a generated layer in tar order, as the tar pass does. */
function tarOrderIndex(index: LayerIndex, members: Parameters<typeof layerRecordOf>[0][]): LayerIndex {
  const entries = [];
  for (const member of members) {
    const record = layerRecordOf(member);
    if (record?.kind === "entry") entries.push(record.entry);
  }
  return { ...index, entries };
}

describe("layer trees built in spilled folders", () => {
  it("match the trees built in memory", () => {
    let spilledFolders = 0;
    for (let seed = 0; seed < 500; seed++) {
      generateLayers(seed).forEach(({ index, members }, k) => {
        for (const listing of [index, tarOrderIndex(index, members)]) {
          const { folders, spillPath } = spillingEverything(`seed-${seed}-${k}`);
          const spilled = [...layerTreeFolders(listing, folders)];
          expect(spilled, `seed ${seed}, layer ${k}`).toEqual([...layerTreeFolders(listing)]);
          expect(existsSync(spillPath), "the spill file is deleted at the end").toBe(false);
          spilledFolders += spilled.length;
        }
      });
    }
    expect(spilledFolders).toBeGreaterThan(5000);
  });

  it("yield folders in path order", () => {
    const listing = layer([dir("a"), file("a/x", 0), file("a-b/y", 10), dir("a/c"), file("a/c/z", 20)]);
    const { folders } = spillingEverything("order");
    expect([...layerTreeFolders(listing, folders)].map(([path]) => path)).toEqual(["", "a", "a/c", "a-b"]);
  });

  it("keep a hardlink's content through a spill", () => {
    const listing = layer([
      file("data/original", 100, 7),
      ...Array.from({ length: 20 }, (_, i) => file(`other-${i}/f`, 200 + i)),
      hardlink("data/link", "data/original"),
      symlink("data/alias", "original"),
    ]);
    const { folders } = spillingEverything("hardlink");
    const data = new Map(layerTreeFolders(listing, folders)).get("data");
    expect(data?.children?.get("link")).toEqual({ kind: "file", mode: 0o644, modified: expect.any(Number), dataOffset: 100, size: 7 });
    expect(data?.children?.get("alias")).toMatchObject({ kind: "symlink", target: "original" });
  });

  it("delete the spill file when the reader stops early", () => {
    const listing = layer(Array.from({ length: 50 }, (_, i) => file(`d${i}/f`, i)));
    const { folders, spillPath } = spillingEverything("early-stop");
    const iterator = layerTreeFolders(listing, folders);
    iterator.next();
    expect(existsSync(spillPath)).toBe(true);
    iterator.return(undefined);
    expect(existsSync(spillPath)).toBe(false);
  });
});
