import { describe, expect, it } from "vitest";

import { FilesystemView } from "../../src/image/filesystem-view.js";
import { createDirectory, type DirectoryNode } from "../../src/image/view-tree.js";
import { VIEW_BYTES_PER_ENTRY, ViewCache } from "../../src/tree/view-cache.js";

/** Returns a view of one folder `data` with `files` files in it: files + 1 entries. */
function viewOf(files: number): FilesystemView {
  const root = createDirectory(0o755, 0);
  const data = createDirectory(0o755, 0);
  root.children.set("data", data);
  for (let i = 0; i < files; i++) {
    data.children.set(`file-${i}`, { kind: "file", mode: 0o644, modified: 0, content: { layerIndex: 0, dataOffset: 512 * i, size: 1 } });
  }
  return new FilesystemView(root);
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
  it("counts the entries of a view", () => {
    expect(viewOf(0).entryCount).toBe(1);
    expect(viewOf(99).entryCount).toBe(100);

    const root: DirectoryNode = createDirectory(0o755, 0);
    const nested = createDirectory(0o755, 0);
    nested.children.set("inner", createDirectory(0o755, 0));
    nested.children.set("link", { kind: "symlink", mode: 0o777, modified: 0, target: "inner" });
    root.children.set("outer", nested);
    expect(new FilesystemView(root).entryCount).toBe(3);
  });

  it("evicts the oldest view past its budget", async () => {
    const cache = new ViewCache(1000 * VIEW_BYTES_PER_ENTRY);
    const { builds, build } = counter();
    await cache.get("a", build("a", 399));
    await cache.get("b", build("b", 399));
    await settled();
    expect(cache.has("a")).toBe(true);
    expect(cache.has("b")).toBe(true);

    await cache.get("a", build("a", 399));
    await cache.get("c", build("c", 399));
    await settled();
    expect(cache.has("a"), "used most recently but one").toBe(true);
    expect(cache.has("b"), "the least recently used").toBe(false);
    expect(cache.has("c")).toBe(true);
    expect(builds.get("a")).toBe(1);
  });

  it("keeps a view larger than the budget", async () => {
    const cache = new ViewCache(1000 * VIEW_BYTES_PER_ENTRY);
    const { builds, build } = counter();
    await cache.get("small", build("small", 10));
    await cache.get("huge", build("huge", 5000));
    await settled();
    expect(cache.has("huge")).toBe(true);
    expect(cache.has("small")).toBe(false);
    expect(cache.size).toBe(1);

    await cache.get("huge", build("huge", 5000));
    expect(builds.get("huge")).toBe(1);
  });

  it("keeps at most 32 views", async () => {
    const cache = new ViewCache();
    const { build } = counter();
    for (let i = 0; i < 33; i++) await cache.get(`view ${i}`, build(`view ${i}`, 1));
    await settled();
    expect(cache.size).toBe(32);
    expect(cache.has("view 0")).toBe(false);
    expect(cache.has("view 32")).toBe(true);
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
    const cache = new ViewCache(100 * VIEW_BYTES_PER_ENTRY);
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

  it("keeps a build while a larger view finishes", async () => {
    const cache = new ViewCache(100 * VIEW_BYTES_PER_ENTRY);
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
    finishSlow(viewOf(3));
    expect((await second).entryCount).toBe(4);
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
