import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { BlobStore } from "../../src/cache/blob-store.js";
import { CacheLayout } from "../../src/cache/cache-layout.js";
import { RegdavError } from "../../src/errors.js";

const content = Buffer.from("the bytes of a blob\n".repeat(1000));
const digest = "sha256:" + createHash("sha256").update(content).digest("hex");

describe("BlobStore", () => {
  let root: string;
  let store: BlobStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "regdav-blobs-"));
    store = new BlobStore(new CacheLayout(root));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("stores a verified blob under its digest", async () => {
    const path = await store.ensure({ digest, size: content.length }, async () => Readable.from([content]), "test/repo");
    expect(await readFile(path)).toEqual(content);
    expect(path).toBe(join(root, "blobs", "sha256", digest.slice(7)));
  });

  it("shares one download between concurrent requests", async () => {
    let opened = 0;
    const open = async () => {
      opened += 1;
      return Readable.from([content]);
    };
    await Promise.all([1, 2, 3, 4].map(() => store.ensure({ digest }, open, "test/repo")));
    expect(opened).toBe(1);
  });

  it("rejects and keeps nothing when the digest does not match", async () => {
    const tampered = Buffer.from(content);
    tampered[10] = tampered[10]! ^ 1;
    const attempt = store.ensure({ digest }, async () => Readable.from([tampered]), "test/repo");
    await expect(attempt).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    expect(await store.cachedPath(digest)).toBeUndefined();
    expect(await readdir(join(root, "blobs", "sha256"))).toEqual([]);
  });

  it("rejects a blob longer than its descriptor", async () => {
    const attempt = store.ensure({ digest, size: content.length - 1 }, async () => Readable.from([content]), "test/repo");
    await expect(attempt).rejects.toBeInstanceOf(RegdavError);
    await expect(attempt).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
  });

  it("rejects a truncated blob", async () => {
    const short = content.subarray(0, 100);
    const attempt = store.ensure({ digest, size: content.length }, async () => Readable.from([short]), "test/repo");
    await expect(attempt).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
  });

  it("tries afresh after a failed download", async () => {
    const tampered = Buffer.from("wrong");
    const attempt = store.ensure({ digest }, async () => Readable.from([tampered]), "test/repo");
    await expect(attempt).rejects.toThrow();
    const path = await store.ensure({ digest }, async () => Readable.from([content]), "test/repo");
    expect(await readFile(path)).toEqual(content);
  });
});
