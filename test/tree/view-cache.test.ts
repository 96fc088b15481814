import { describe, expect, it } from "vitest";

import { FilesystemView } from "../../src/image/filesystem-view.js";
import { buildLayerView } from "../../src/image/layer-view.js";
import { ViewCache } from "../../src/tree/view-cache.js";
import { file, layer } from "../image/index-fixtures.js";

/** Returns a view of one folder `data` with `files` files in it. */
function viewOf(files: number): FilesystemView {
  return buildLayerView(layer(Array.from({ length: files }, (_, i) => file(`data/file-${i}`, 512 * i, 1))));
}

/** Returns builds for ViewCache.get that count how often each key was built. */
function counter() {
  const builds = new Map<string, number>();
  const build = (key: string, files: number) => async () => {
    builds.set(key, (builds.get(key) ?? 0) + 1);
    return viewOf(files);
  };
  return { builds, build };
}

/** Lets the cache see that the builds it started have finished. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("view cache", () => {
  it("evicts the least recently used view", async () => {
    const cache = new ViewCache(2);
    const { builds, build } = counter();
    await cache.get("a", build("a", 3));
    await cache.get("b", build("b", 3));
    await settled();
    expect(cache.has("a")).toBe(true);
    expect(cache.has("b")).toBe(true);

    await cache.get("a", build("a", 3));
    await cache.get("c", build("c", 3));
    await settled();
    expect(cache.has("a"), "used most recently but one").toBe(true);
    expect(cache.has("b"), "the least recently used").toBe(false);
    expect(cache.has("c")).toBe(true);
    expect(builds.get("a")).toBe(1);
  });

  it("keeps at most 64 views", async () => {
    const cache = new ViewCache();
    const { build } = counter();
    for (let i = 0; i < 65; i++) await cache.get(`view ${i}`, build(`view ${i}`, 1));
    await settled();
    expect(cache.size).toBe(64);
    expect(cache.has("view 0")).toBe(false);
    expect(cache.has("view 64")).toBe(true);
  });

  it("forgets a failed build", async () => {
    const cache = new ViewCache();
    await expect(cache.get("broken", async () => Promise.reject(new Error("build failed")))).rejects.toThrow("build failed");
    await settled();
    expect(cache.has("broken")).toBe(false);
    const { builds, build } = counter();
    await cache.get("broken", build("broken", 1));
    expect(builds.get("broken")).toBe(1);
  });

  it("keeps finished views while another builds", async () => {
    const cache = new ViewCache(1);
    const { builds, build } = counter();
    await cache.get("rootfs", build("rootfs", 500));
    const pending = cache.get("layer", () => new Promise<FilesystemView>(() => {}));
    await settled();
    expect(cache.isBuilding("layer")).toBe(true);
    expect(cache.has("rootfs"), "a build in progress must not evict").toBe(true);

    await cache.get("rootfs", build("rootfs", 500));
    expect(builds.get("rootfs")).toBe(1);
    void pending;
  });

  it("keeps a build while another view finishes", async () => {
    const cache = new ViewCache(1);
    let finishSlow!: (view: FilesystemView) => void;
    let slowBuilds = 0;
    const slow = () => {
      slowBuilds++;
      return new Promise<FilesystemView>((resolve) => (finishSlow = resolve));
    };
    const first = cache.get("slow", slow);
    const { build } = counter();
    await cache.get("big", build("big", 500));
    await settled();

    const second = cache.get("slow", slow);
    expect(second).toBe(first);
    expect(slowBuilds).toBe(1);
    const view = viewOf(3);
    finishSlow(view);
    expect(await second).toBe(view);
  });

  it("forgets a failed build only once it has settled", async () => {
    const cache = new ViewCache();
    let failFirst!: (error: Error) => void;
    const first = cache.get("a", () => new Promise<FilesystemView>((_, reject) => (failFirst = reject)));
    expect(cache.isBuilding("a")).toBe(true);
    failFirst(new Error("first build failed"));
    await expect(first).rejects.toThrow("first build failed");
    expect(cache.isBuilding("a")).toBe(false);
    expect(cache.has("a")).toBe(false);

    const { builds, build } = counter();
    await cache.get("a", build("a", 1));
    await cache.get("a", build("a", 1));
    expect(builds.get("a")).toBe(1);
    expect(cache.has("a")).toBe(true);
  });

  it("shares one build between waiting requests", async () => {
    const cache = new ViewCache();
    const { builds, build } = counter();
    const [first, second] = await Promise.all([cache.get("x", build("x", 5)), cache.get("x", build("x", 5))]);
    expect(first).toBe(second);
    expect(builds.get("x")).toBe(1);
  });
});
