import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LAYER_TREE_VERSION } from "../../src/image/layer-tree-file.js";
import { LAYER_INDEX_VERSION } from "../../src/layer/layer-index.js";
import { makeImageConfig, makeLayer, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { davRequest, listEntries } from "./dav-client.js";

/**
 * Views read each layer's folders from a tree file stored in the cache, not
 * from the listing in memory. After a restart, a layer indexed before is
 * shown from its stored tree, without the listing being read again.
 */

let registry: TestRegistry;
let cache: TempDir;
let base: LayerBlob;
let top: LayerBlob;

beforeAll(async () => {
  registry = await startRegistry();
  cache = await makeTempDir("regdav-cache");
  base = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/motd", content: "base motd\n" },
    { type: "file", path: "etc/hostname", content: "base\n" },
    { type: "directory", path: "srv" },
    { type: "file", path: "srv/data.txt", content: "lower data\n" },
  ]);
  top = await makeLayer([
    { type: "file", path: "etc/.wh.hostname", content: "" },
    { type: "file", path: "srv/new.txt", content: "upper data\n" },
  ]);
  const image = { layers: [base, top], config: makeImageConfig({ layers: [base, top] }), format: "oci" as const };
  await pushImage(registry.host, "demo/trees", "v1", image);
});

afterAll(async () => {
  await cache?.remove();
  await registry?.stop();
});

function rootfsUrl(regdav: RegdavProcess, path: string): string {
  return `${regdav.url}${registry.host}/demo/trees/_tags/v1/rootfs/${path}`;
}

/** The cache file name ending of a layer's tree built from its tar listing. */
const TAR_TREE = `.tree-tar-v${LAYER_INDEX_VERSION}.v${LAYER_TREE_VERSION}.bin`;

function cachedIndex(layer: LayerBlob, suffix: string): string {
  const hex = layer.digest.slice("sha256:".length);
  return join(cache.path, "indexes", "sha256", `${hex}${suffix}`);
}

async function names(regdav: RegdavProcess, path: string): Promise<string[]> {
  return (await listEntries(rootfsUrl(regdav, path))).map((entry) => entry.name).sort();
}

async function body(regdav: RegdavProcess, path: string): Promise<string> {
  const response = await davRequest(rootfsUrl(regdav, path));
  expect(response.status, path).toBe(200);
  return response.body.toString("utf8");
}

describe("stored layer trees", () => {
  it("stores a tree per layer and serves the merged view", async () => {
    const regdav = await startRegdav(["--registry", registry.host], { cacheDir: cache.path });
    try {
      expect(await names(regdav, "etc/")).toEqual(["motd"]);
      expect(await names(regdav, "srv/")).toEqual(["data.txt", "new.txt"]);
      expect(await body(regdav, "srv/new.txt")).toBe("upper data\n");
    } finally {
      await regdav.stop();
    }
    for (const layer of [base, top]) {
      const tree = await readFile(cachedIndex(layer, TAR_TREE));
      expect(tree.subarray(0, 8).toString(), layer.digest).toBe("RDTREE01");
    }
  });

  it("reads stored trees after a restart, not the listings", async () => {
    // Empties each layer's stored listing. A view built from the listings
    // would then be empty, so files that still show come from the trees.
    for (const layer of [base, top]) {
      const summaryPath = cachedIndex(layer, `.v${LAYER_INDEX_VERSION}.json`);
      const summary = JSON.parse(await readFile(summaryPath, "utf8")) as { entryCount: number };
      expect(summary.entryCount, layer.digest).toBeGreaterThan(0);
      const entriesPath = cachedIndex(layer, `.entries.v${LAYER_INDEX_VERSION}.jsonl`);
      expect((await readFile(entriesPath, "utf8")).split("\n")).toHaveLength(summary.entryCount + 1);
      await writeFile(entriesPath, "");
      await writeFile(summaryPath, JSON.stringify({ ...summary, entryCount: 0 }));
    }

    const regdav = await startRegdav(["--registry", registry.host], { cacheDir: cache.path });
    try {
      expect(await names(regdav, "etc/")).toEqual(["motd"]);
      expect(await names(regdav, "srv/")).toEqual(["data.txt", "new.txt"]);
      expect(await body(regdav, "srv/data.txt")).toBe("lower data\n");
    } finally {
      await regdav.stop();
    }
  });

  it("builds a damaged tree again from the listing", async () => {
    const damaged = cachedIndex(base, TAR_TREE);
    await writeFile(damaged, "not a tree");
    // The listing emptied above would give an empty base layer, so this restores it by a new pass.
    await writeFile(cachedIndex(base, `.v${LAYER_INDEX_VERSION}.json`), "{}");

    const regdav = await startRegdav(["--registry", registry.host], { cacheDir: cache.path });
    try {
      expect(await names(regdav, "etc/")).toEqual(["motd"]);
      expect(await body(regdav, "etc/motd")).toBe("base motd\n");
      expect(regdav.output()).toContain("stored layer tree unreadable, building it again");
    } finally {
      await regdav.stop();
    }
    const rebuilt = await readFile(damaged);
    expect(rebuilt.subarray(0, 8).toString()).toBe("RDTREE01");
  });
  it("indexes a layer again when its stored entries are damaged", async () => {
    // The tests above emptied the stored listings, so a first start stores the top layer's again.
    const summaryPath = cachedIndex(top, `.v${LAYER_INDEX_VERSION}.json`);
    const entriesPath = cachedIndex(top, `.entries.v${LAYER_INDEX_VERSION}.jsonl`);
    for (const path of [summaryPath, entriesPath, cachedIndex(top, TAR_TREE)]) await rm(path);
    // Files that an earlier version of regdav stored, which the new pass and tree replace.
    const olderFiles = [cachedIndex(top, ".v1.json"), cachedIndex(top, ".tree-tar-v1.v1.bin")];
    for (const path of olderFiles) await writeFile(path, "{}");
    const first = await startRegdav(["--registry", registry.host], { cacheDir: cache.path });
    try {
      expect(await names(first, "srv/")).toEqual(["data.txt", "new.txt"]);
    } finally {
      await first.stop();
    }
    for (const path of olderFiles) await expect(readFile(path), path).rejects.toThrow(/ENOENT/);

    // Without its tree, the top layer's tree is built from the entries file, which now ends mid-line.
    await rm(cachedIndex(top, TAR_TREE));
    const entries = await readFile(entriesPath, "utf8");
    await writeFile(entriesPath, entries.slice(0, entries.length - 10));

    const regdav = await startRegdav(["--registry", registry.host], { cacheDir: cache.path });
    try {
      expect(await names(regdav, "srv/")).toEqual(["data.txt", "new.txt"]);
      expect(await body(regdav, "srv/new.txt")).toBe("upper data\n");
      expect(regdav.output()).toContain("stored layer listing damaged, indexing the layer again");
    } finally {
      await regdav.stop();
    }
    expect(await readFile(entriesPath, "utf8")).toBe(entries);
  });
});
