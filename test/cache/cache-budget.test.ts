import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { CacheBudget } from "../../src/cache/cache-budget.js";

describe("CacheBudget", () => {
  let root: string;
  const blob = (name: string) => join(root, "blobs", "sha256", name);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "regdav-budget-"));
    await mkdir(join(root, "blobs", "sha256"), { recursive: true });
    await mkdir(join(root, "indexes", "sha256"), { recursive: true });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function write(name: string, size: number, ageSeconds: number) {
    await writeFile(blob(name), Buffer.alloc(size));
    const time = Date.now() / 1000 - ageSeconds;
    await utimes(blob(name), time, time);
  }

  it("evicts the oldest files found at start", async () => {
    await write("old", 600, 300);
    await write("new", 600, 10);
    const budget = new CacheBudget(root, 1000);
    await budget.scan();
    expect(await readdir(join(root, "blobs", "sha256"))).toEqual(["new"]);
    expect(budget.usedBytes).toBe(600);
  });

  it("keeps the file just added even over the limit", async () => {
    const budget = new CacheBudget(root, 100);
    await budget.scan();
    await write("big", 500, 0);
    await budget.added(blob("big"), 500);
    expect(await readdir(join(root, "blobs", "sha256"))).toEqual(["big"]);
  });

  it("evicts the least recently used, not the oldest written", async () => {
    const budget = new CacheBudget(root, 1000);
    await budget.scan();
    await write("a", 400, 0);
    await budget.added(blob("a"), 400);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await write("b", 400, 0);
    await budget.added(blob("b"), 400);
    await new Promise((resolve) => setTimeout(resolve, 5));
    budget.touched(blob("a"));
    await write("c", 400, 0);
    await budget.added(blob("c"), 400);
    expect((await readdir(join(root, "blobs", "sha256"))).sort()).toEqual(["a", "c"]);
  });

  it("never touches indexes or partial files", async () => {
    await writeFile(join(root, "indexes", "sha256", "x.v1.json"), "{}");
    await writeFile(blob("y.123.ab.partial"), Buffer.alloc(5000));
    const budget = new CacheBudget(root, 1);
    await budget.scan();
    expect(await readdir(join(root, "indexes", "sha256"))).toEqual(["x.v1.json"]);
    expect(await readdir(join(root, "blobs", "sha256"))).toEqual(["y.123.ab.partial"]);
  });
});
