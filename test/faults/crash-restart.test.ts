import { randomBytes } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, waitUntil, type TempDir } from "../harness/tools.js";
import {
  bodyOf,
  cachedBlobDigest,
  cacheFilesOf,
  describeOutcome,
  encodePath,
  fetchOutcome,
  hexOf,
  listFiles,
  pushLayerImage,
  type PushedFileImage,
} from "./fault-fixtures.js";

const FILE_SIZE = 3_000_000;
/** 64 KiB every 100 ms: the 3 MB layer takes about 5 s, long enough to kill regdav midway. */
const SLOW = { kind: "trickle", chunkBytes: 64 * 1024, intervalMs: 100 } as const;

describe("crash and restart", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let cache: TempDir;
  let image: PushedFileImage;
  let content: Buffer;
  const running: RegdavProcess[] = [];

  const start = async () => {
    const regdav = await startRegdav(["--registry", proxy.host], { cacheDir: cache.path });
    running.push(regdav);
    return regdav;
  };
  const fileUrl = (regdav: RegdavProcess) =>
    `${regdav.url}${encodePath(`${proxy.host}/${image.repository}/_tags/v1/rootfs/data.bin`)}`;
  const partials = async () =>
    (await listFiles(cache.path)).filter((file) => file.endsWith(".partial"));
  const layerFiles = () => cacheFilesOf(cache.path, image.layer.digest);
  const blobGets = () => proxy.count(new RegExp(`/blobs/${image.layer.digest}$`), "GET");

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    cache = await makeTempDir("crash-cache");
    content = randomBytes(FILE_SIZE);
    const entries = [{ type: "file" as const, path: "data.bin", content }];
    image = await pushLayerImage(registry.host, "crash/slow", entries);
  });

  afterEach(() => proxy.clearFaults());

  afterAll(async () => {
    for (const regdav of running) await regdav.stop();
    await proxy?.close();
    await registry?.stop();
    await cache?.remove();
  });

  describe("SIGKILL during a layer download", () => {
    let killedOutput = "";

    it("leaves only temporary files", async () => {
      const regdav = await start();
      proxy.addFault({ path: /\/blobs\//, method: "GET", fault: SLOW });
      const reading = fetchOutcome(fileUrl(regdav)).catch((error: unknown) => String(error));

      // Waits until the download has written a part of the blob, then kills regdav.
      await waitUntil("a partial blob in the cache", async () => {
        for (const file of await partials()) {
          if ((await stat(join(cache.path, file))).size > 500_000) return true;
        }
        return false;
      });
      regdav.kill("SIGKILL");
      expect((await regdav.exited).signal).toBe("SIGKILL");
      killedOutput = regdav.output();
      await reading;

      const files = await layerFiles();
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter((file) => !file.endsWith(".partial"))).toEqual([]);
      expect(await cachedBlobDigest(cache.path, image.layer.digest)).toBeUndefined();
    });

    it("killed process logged no finished layer", () => {
      expect(killedOutput).not.toContain("layer indexed");
    });

    it("restart removes the dead process's temporary files", async () => {
      const regdav = await start();
      expect(await partials()).toEqual([]);
      expect(regdav.output()).toMatch(/removed unfinished cache files .*files=[1-9]/);
    });

    it("restarted regdav serves the file whole", async () => {
      const regdav = running.at(-1)!;
      const downloadsBefore = blobGets();
      const outcome = await fetchOutcome(fileUrl(regdav));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(content)).toBe(true);
      expect(blobGets() - downloadsBefore).toBe(1);
    });

    it("cache then holds the verified blob and its index", async () => {
      expect(await cachedBlobDigest(cache.path, image.layer.digest)).toBe(image.layer.digest);
      const files = await layerFiles();
      expect(files.some((file) => file.startsWith("indexes/") && file.endsWith(".json"))).toBe(
        true,
      );
      expect(await partials()).toEqual([]);
    });
  });

  describe("damaged records after a crash", () => {
    const indexPath = async () => {
      const files = await layerFiles();
      const index = files.find((file) => file.startsWith("indexes/") && file.endsWith(".json"));
      if (index === undefined) throw new Error("the layer index is not cached");
      return join(cache.path, index);
    };
    const restartAndRead = async () => {
      await running.at(-1)?.stop();
      const regdav = await start();
      const downloadsBefore = blobGets();
      const outcome = await fetchOutcome(fileUrl(regdav));
      return { outcome, downloads: blobGets() - downloadsBefore };
    };

    const treePaths = async () =>
      (await layerFiles()).filter((file) => file.includes(".tree-")).map((file) => join(cache.path, file));

    it("truncated index is rebuilt from the cached blob", async () => {
      const path = await indexPath();
      const index = await readFile(path);
      await writeFile(path, index.subarray(0, Math.floor(index.length / 2)));
      // Views read the layer tree written after the index, so this is a crash before that tree was written.
      const trees = await treePaths();
      expect(trees.length).toBeGreaterThan(0);
      for (const tree of trees) await rm(tree);

      const { outcome, downloads } = await restartAndRead();
      expect(bodyOf(outcome)?.equals(content)).toBe(true);
      expect(downloads).toBe(0);
      expect((await readFile(await indexPath())).equals(index)).toBe(true);
    });

    it("truncated index beside a stored tree still serves files", async () => {
      const path = await indexPath();
      const index = await readFile(path);
      await writeFile(path, index.subarray(0, Math.floor(index.length / 2)));
      expect((await treePaths()).length).toBeGreaterThan(0);

      const { outcome, downloads } = await restartAndRead();
      expect(bodyOf(outcome)?.equals(content)).toBe(true);
      expect(downloads).toBe(0);
      // The view did not read the listing, which a read would have found damaged and rebuilt.
      expect((await readFile(path)).length).toBe(Math.floor(index.length / 2));
      await writeFile(path, index);
    });

    it("missing index is rebuilt from the cached blob", async () => {
      const path = await indexPath();
      await rm(path);

      const { outcome, downloads } = await restartAndRead();
      expect(bodyOf(outcome)?.equals(content)).toBe(true);
      expect(downloads).toBe(0);
    });

    it("temporary file of a running writer is kept", async () => {
      // This test process is alive, so a temporary file named with its id belongs to a live writer.
      const hex = hexOf(image.layer.digest);
      const name = `blobs/sha256/${hex}.${process.pid}.0123abcd.partial`;
      await writeFile(join(cache.path, name), "unfinished");

      await restartAndRead();
      expect(await partials()).toEqual([name]);
      await rm(join(cache.path, name));
    });
  });

  describe("stop signals", () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`${signal} on an idle server exits 0`, async () => {
        const regdav = await start();
        // A finished request leaves an idle keep-alive connection, which must not delay the exit.
        const root = await fetchOutcome(regdav.url);
        expect(root.status).toBe(200);

        const started = Date.now();
        regdav.kill(signal);
        const exit = await regdav.exited;
        expect(exit.code).toBe(0);
        expect(Date.now() - started).toBeLessThan(2_000);
        expect(regdav.output()).toContain(`regdav stopping signal=${signal}`);
      });
    }

    /** Pushes an image of a fresh random file, reads it through the slow proxy, sends SIGTERM. */
    const readThenStop = async (repository: string, size: number) => {
      const fileContent = randomBytes(size);
      const entries = [{ type: "file" as const, path: "data.bin", content: fileContent }];
      const pushed = await pushLayerImage(registry.host, repository, entries);
      const regdav = await start();
      const path = `${proxy.host}/${pushed.repository}/_tags/v1/rootfs/data.bin`;
      const reading = fetchOutcome(`${regdav.url}${encodePath(path)}`);
      const readDone = reading.then(
        () => Date.now(),
        () => Date.now(),
      );
      await waitUntil("the blob download", async () => proxy.count(/\/blobs\//) > 0);

      const signalled = Date.now();
      regdav.kill("SIGTERM");
      const refused = await waitUntil("the listener to close", () =>
        fetch(regdav.url).then(
          () => false,
          () => true,
        ),
      ).then(() => true);
      const exit = await regdav.exited;
      const exitedMs = Date.now() - signalled;
      const outcome = await reading.then(
        (result) => ({ described: describeOutcome(result), body: bodyOf(result) }),
        (error: unknown) => ({ described: `request failed: ${String(error)}`, body: undefined }),
      );
      return { fileContent, refused, exit, exitedMs, outcome, readDone: await readDone };
    };

    it("SIGTERM lets a slow read finish, then exits 0", async () => {
      proxy.resetLog();
      proxy.addFault({ path: /\/blobs\//, method: "GET", fault: SLOW });
      const stop = await readThenStop("crash/finish-read", 1_000_000);

      expect(stop.refused).toBe(true);
      expect(stop.exit.code).toBe(0);
      expect(stop.outcome.described).toMatch(/^status 200/);
      expect(stop.outcome.body?.equals(stop.fileContent)).toBe(true);
      // The process exits once the read is done, not when the 5 s limit is up.
      expect(Date.now() - stop.readDone).toBeLessThan(5_000);
      expect(stop.exitedMs).toBeLessThan(5_000);
    });

    it("SIGTERM ends a stalled read after 5 s and exits 0", async () => {
      proxy.resetLog();
      proxy.addFault({ path: /\/blobs\//, method: "GET", fault: { kind: "stall" } });
      const stop = await readThenStop("crash/stalled-read", 10_000);

      expect(stop.refused).toBe(true);
      expect(stop.exit.code).toBe(0);
      expect(stop.exitedMs).toBeGreaterThanOrEqual(4_500);
      expect(stop.exitedMs).toBeLessThan(8_000);
      // The read got no file: its connection was closed.
      expect(stop.outcome.described).not.toMatch(/^status 200/);
    });
  });
});
