import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RESIDENT_NODE_BUDGET } from "../../src/image/spilled-folders.js";
import { makeImageConfig, makeLayer, type LayerBlob, type TarEntry } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, encodePath, getBytes, listNames } from "./dav-client.js";

/*
 * A layer with more nodes than SpilledFolders keeps in memory, so building
 * its tree writes folders out to the spill file and reads them back. Entries
 * at the end of the tar reach folders written out long before: a hardlink
 * into the first folder, and a file that takes the place of a folder.
 */

const FOLDERS = 600;
const FILES_PER_FOLDER = 50;

/** Files that carry content, so reads check offsets too; the others are empty to keep the tar small. */
function contentOf(folder: number, file: number): string {
  return file % 10 === 7 ? `content of d${folder}/f${file}\n` : "";
}

function layerEntries(): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let folder = 0; folder < FOLDERS; folder++) {
    entries.push({ type: "directory", path: `big/d${folder}` });
    for (let file = 0; file < FILES_PER_FOLDER; file++) {
      entries.push({ type: "file", path: `big/d${folder}/f${file}`, content: contentOf(folder, file) });
    }
  }
  entries.push({ type: "hardlink", path: "links/first", target: "big/d0/f7" });
  entries.push({ type: "file", path: "big/d5", content: "a file in place of a folder\n" });
  entries.push({ type: "file", path: "big/d1/late", content: "added at the end\n" });
  return entries;
}

describe("layer tree larger than the folders kept in memory", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let layer: LayerBlob;
  const url = (path: string) => `${regdav.url}${encodePath(`${registry.host}/big/tree/_tags/v1/rootfs/${path}`)}`;

  beforeAll(async () => {
    expect(FOLDERS * (FILES_PER_FOLDER + 1)).toBeGreaterThan(RESIDENT_NODE_BUDGET);
    registry = await startRegistry();
    layer = await makeLayer(layerEntries());
    await pushImage(registry.host, "big/tree", "v1", {
      layers: [layer],
      config: makeImageConfig({ layers: [layer] }),
      format: "oci",
    });
    regdav = await startRegdav(["--registry", registry.host]);
  }, 120_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("lists a folder written out early", async () => {
    const names = await listNames(url("big/d0/"));
    expect(names).toHaveLength(FILES_PER_FOLDER);
    expect(names).toContain("f49");
    expect(regdav.output()).toContain("layer tree built with folders written out");
  }, 120_000);

  it("reads files of early and late folders", async () => {
    for (const folder of [0, 1, 300, FOLDERS - 1]) {
      const body = await getBytes(url(`big/d${folder}/f17`));
      expect(body.toString(), `d${folder}`).toBe(contentOf(folder, 17));
    }
  });

  it("gives a late hardlink its early target", async () => {
    expect((await getBytes(url("links/first"))).toString()).toBe(contentOf(0, 7));
  });

  it("replaces a written-out folder with a late file", async () => {
    expect((await getBytes(url("big/d5"))).toString()).toBe("a file in place of a folder\n");
    expect((await davRequest(url("big/d5/f7"))).status).toBe(404);
  });

  it("adds a late file to a written-out folder", async () => {
    const names = await listNames(url("big/d1/"));
    expect(names).toHaveLength(FILES_PER_FOLDER + 1);
    expect((await getBytes(url("big/d1/late"))).toString()).toBe("added at the end\n");
  });

  it("leaves no spill file in the cache", async () => {
    const names = await readdir(regdav.cacheDir, { recursive: true });
    expect(names.filter((name) => name.includes(".folders."))).toEqual([]);
    expect(names.some((name) => name.includes(".tree-tar-"))).toBe(true);
  });
});
