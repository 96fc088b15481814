import { readdir } from "node:fs/promises";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeImageConfig, makeLayer, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { encodePath, getBytes, listNames } from "./dav-client.js";
import { imageFolderNames } from "./folder-names.js";

/** Builds an image of three layers whose files all name `label`, so no two images share a layer. */
async function makeImage(label: string) {
  const layers = [
    await makeLayer([{ type: "file", path: "base.txt", content: `${label} base\n` }]),
    await makeLayer([{ type: "file", path: "middle.txt", content: `${label} middle\n` }]),
    await makeLayer([{ type: "file", path: "top.txt", content: `${label} top\n` }]),
  ];
  const config = makeImageConfig({ layers });
  return { layers, config, format: "oci" as const };
}

/** Returns the blob requests, GET and HEAD alike, that regdav logged at debug level. */
function blobRequests(output: string): string[] {
  return output.split("\n").filter((line) => /http request .*\/blobs\/sha256:/.test(line));
}

/** Returns the digests of the "layer indexed" log lines, one line per indexing pass. */
function indexedLayers(output: string): string[] {
  const digests: string[] = [];
  for (const line of output.split("\n")) {
    const match = /layer indexed digest=(sha256:[0-9a-f]{64})/.exec(line);
    if (match) digests.push(match[1]!);
  }
  return digests.sort();
}

function countOf(items: readonly string[], item: string): number {
  return items.filter((each) => each === item).length;
}

async function cachedFiles(cacheDir: string): Promise<string[]> {
  const entries = await readdir(cacheDir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe("laziness", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let coldLayers: LayerBlob[];

  const tags = () => `${regdav.url}${encodePath(`${registry.host}/lazy/app/_tags/`)}`;
  const tag = (tagName: string, path: string) => `${tags()}${tagName}/${encodePath(path)}`;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry.host, "lazy/app", "listed", await makeImage("listed"));
    const cold = await makeImage("cold");
    coldLayers = cold.layers;
    await pushImage(registry.host, "lazy/app", "cold", cold);
    regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("listing tags and a tag folder requests no blob", async () => {
    expect(await listNames(tags())).toEqual(["cold", "listed"]);
    const names = await listNames(tag("listed", ""));
    expect(names).toEqual(imageFolderNames);
    expect(blobRequests(regdav.output())).toEqual([]);
  });

  it("listing layers requests no blob", async () => {
    expect((await listNames(tag("listed", "layers/"))).length).toBe(6);
    expect(blobRequests(regdav.output())).toEqual([]);
  });

  it("listing caches no blob", async () => {
    expect(await cachedFiles(regdav.cacheDir)).toEqual([]);
  });

  it("concurrent first reads download each layer once", async () => {
    const [top, base] = await Promise.all([
      getBytes(tag("cold", "rootfs/top.txt")),
      getBytes(tag("cold", "rootfs/base.txt")),
    ]);
    expect(top.toString()).toBe("cold top\n");
    expect(base.toString()).toBe("cold base\n");

    const indexed = indexedLayers(regdav.output());
    const requests = blobRequests(regdav.output());
    for (const layer of coldLayers) {
      expect(countOf(indexed, layer.digest), `indexing passes of ${layer.digest}`).toBe(1);
      const fetches = requests.filter((line) => line.includes(layer.digest));
      expect(fetches.length, `requests for ${layer.digest}:\n${fetches.join("\n")}`).toBe(1);
    }
  });

  it("later reads download nothing", async () => {
    const before = blobRequests(regdav.output()).length;
    expect((await getBytes(tag("cold", "rootfs/middle.txt"))).toString()).toBe("cold middle\n");
    const layerFolder = `layers/2-${coldLayers[1]!.digest.slice(7, 19)}/middle.txt`;
    expect((await getBytes(tag("cold", layerFolder))).toString()).toBe("cold middle\n");
    expect(blobRequests(regdav.output()).length).toBe(before);
  });

  it("raw layer and rootfs reads share one download", async () => {
    const image = await makeImage("mixed");
    await pushImage(registry.host, "lazy/app", "mixed", image);
    const base = image.layers[0]!;
    const rawName = `layers/1-${base.digest.slice(7, 19)}.tar.gz`;

    const [raw, file] = await Promise.all([
      getBytes(tag("mixed", rawName)),
      getBytes(tag("mixed", "rootfs/base.txt")),
    ]);
    expect(raw.equals(base.bytes)).toBe(true);
    expect(file.toString()).toBe("mixed base\n");
    const fetches = blobRequests(regdav.output()).filter((line) => line.includes(base.digest));
    expect(fetches.length, fetches.join("\n")).toBe(1);
  });

  describe("restart on the same cache", () => {
    let cacheDir: TempDir;
    let first: RegdavProcess;
    let second: RegdavProcess;

    beforeAll(async () => {
      cacheDir = await makeTempDir("shared-cache");
      await pushImage(registry.host, "lazy/app", "restart", await makeImage("restart"));
      const args = ["--registry", registry.host, "--log-level", "debug"];
      first = await startRegdav(args, { cacheDir: cacheDir.path });
    });

    afterAll(async () => {
      await first?.stop();
      await second?.stop();
      await cacheDir?.remove();
    });

    const restartUrl = (server: RegdavProcess, path: string) =>
      `${server.url}${encodePath(`${registry.host}/lazy/app/_tags/restart/rootfs/${path}`)}`;

    it("first process downloads the layers", async () => {
      expect((await getBytes(restartUrl(first, "top.txt"))).toString()).toBe("restart top\n");
      expect(indexedLayers(first.output()).length).toBe(3);
    });

    it("restarted process serves without a download", async () => {
      await first.stop();
      const args = ["--registry", registry.host, "--log-level", "debug"];
      second = await startRegdav(args, { cacheDir: cacheDir.path });

      expect((await getBytes(restartUrl(second, "top.txt"))).toString()).toBe("restart top\n");
      expect((await getBytes(restartUrl(second, "base.txt"))).toString()).toBe("restart base\n");
      expect(blobRequests(second.output())).toEqual([]);
      expect(indexedLayers(second.output())).toEqual([]);
    });
  });
});
