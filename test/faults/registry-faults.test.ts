import { randomBytes } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from "vitest";

import { startFaultProxy, type Fault, type FaultProxy } from "../harness/fault-proxy.js";
import type { Compression } from "../harness/image-builder.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import {
  bodyOf,
  bodyText,
  cachedBlobDigest,
  cacheFilesOf,
  describeOutcome,
  encodePath,
  fetchOutcome,
  pushLayerImage,
  startBlackHole,
  type Outcome,
  type PushedFileImage,
} from "./fault-fixtures.js";

/** The idle timeout regdav runs with here, so that a stalled registry fails fast. */
const IDLE_TIMEOUT_MS = 1_000;
/** Size of each image's one file: random bytes, so the gzip layer is about as large. */
const FILE_SIZE = 1_500_000;

// Every test uses an image of its own, and its fault rules match only that
// image's paths, so tests run at once, except the steps of one bad-content case.
describe.concurrent("registry faults", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  const contents = new Map<string, Buffer>();
  let imageCount = 0;

  /** Pushes a fresh image with one random file, so that nothing of it is cached yet. */
  const freshImage = async (compression: Compression = "gzip"): Promise<PushedFileImage> => {
    const repository = `faults/image-${++imageCount}`;
    const content = randomBytes(FILE_SIZE);
    contents.set(repository, content);
    const entries = [{ type: "file" as const, path: "data.bin", content }];
    return pushLayerImage(registry.host, repository, entries, compression);
  };
  const urlOn = (server: RegdavProcess, image: PushedFileImage, path: string) =>
    `${server.url}${encodePath(`${proxy.host}/${image.repository}/_tags/v1/${path}`)}`;
  const contentOf = (image: PushedFileImage) => contents.get(image.repository)!;
  const url = (image: PushedFileImage, path: string) =>
    `${regdav.url}${encodePath(`${proxy.host}/${image.repository}/_tags/v1/${path}`)}`;
  const blobPath = (image: PushedFileImage) => new RegExp(`/blobs/${image.layer.digest}$`);
  const blobRequests = (image: PushedFileImage) =>
    proxy.requests.filter((entry) => blobPath(image).test(entry.url.split("?")[0]!));
  const addBlobFault = (image: PushedFileImage, fault: Fault, times?: number) =>
    proxy.addFault({ path: blobPath(image), method: "GET", fault, ...(times && { times }) });

  /** Checks that the layer's blob is cached intact, with no temporary file beside it. */
  const expectCachedIntact = async (image: PushedFileImage, expect: ExpectStatic) => {
    expect(await cachedBlobDigest(regdav.cacheDir, image.layer.digest)).toBe(image.layer.digest);
    const files = await cacheFilesOf(regdav.cacheDir, image.layer.digest);
    expect(files.filter((file) => file.endsWith(".partial"))).toEqual([]);
  };

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    regdav = await startRegdav(["--registry", proxy.host], {
      env: { REGDAV_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS), REGDAV_CONNECT_TIMEOUT_MS: "2000" },
    });
  });

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  describe("dropped download", () => {
    it("connection reset resumes with Range", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "reset", afterBytes: 400_000 }, 1);

      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);

      const requests = blobRequests(image);
      expect(requests.map((entry) => entry.fault)).toEqual(["reset", undefined]);
      expect(requests[0]!.range).toBeUndefined();
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(requests[1]!.range ?? "")?.[1]);
      expect(resumedAt).toBeLessThanOrEqual(400_000);
      expect(requests[1]!.status).toBe(206);
      await expectCachedIntact(image, expect);
    });

    it("closed connection resumes from the bytes received", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "truncate", bytes: 300_000, mode: "close" }, 1);

      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
      const ranges = blobRequests(image).map((entry) => entry.range);
      expect(ranges[0]).toBeUndefined();
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? "")?.[1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(300_000);
      await expectCachedIntact(image, expect);
    });

    it("raw layer read resumes too", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "truncate", bytes: 500_000, mode: "close" }, 1);

      const outcome = await fetchOutcome(url(image, image.rawLayerPath));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(image.layer.bytes)).toBe(true);
      const ranges = blobRequests(image).map((entry) => entry.range);
      expect(ranges[0]).toBeUndefined();
      // Bytes that reached regdav's socket but not the download when it broke are fetched again.
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? "")?.[1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(500_000);
      await expectCachedIntact(image, expect);
    });

    it("registry ignoring Range sends all and the start is skipped", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "truncate", bytes: 300_000, mode: "close" }, 1);
      addBlobFault(image, { kind: "ignore-range" }, 1);

      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
      const requests = blobRequests(image);
      expect(requests.map((entry) => entry.fault)).toEqual(["truncate", "ignore-range"]);
      expect(requests[1]!.status).toBe(200);
      await expectCachedIntact(image, expect);
    });

    it("503 and 429 on a resume are retried", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "truncate", bytes: 200_000, mode: "close" }, 1);
      addBlobFault(image, { kind: "status", status: 503 }, 1);
      addBlobFault(image, { kind: "status", status: 429, headers: { "retry-after": "1" } }, 1);

      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
      const requests = blobRequests(image);
      expect(requests.map((entry) => entry.status)).toEqual([200, 503, 429, 206]);
      const ranges = new Set(requests.slice(1).map((entry) => entry.range));
      expect(ranges.size).toBe(1);
      expect([...ranges][0]).toMatch(/^bytes=\d+-$/);
      await expectCachedIntact(image, expect);
    });

    it("repeated resets fail after bounded attempts", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "truncate", bytes: 10_000, mode: "close" });

      const started = Date.now();
      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
      expect(bodyText(outcome)).toContain("download failed at byte");
      expect(Date.now() - started).toBeLessThan(30_000);
      // One download and at most five resumes in a row that made no real progress.
      expect(blobRequests(image).length).toBe(6);
      expect(await cacheFilesOf(regdav.cacheDir, image.layer.digest)).toEqual([]);
    });
  });

  describe("bad content", () => {
    const failingCases: Array<{ name: string; fault: Fault; message: RegExp }> = [
      {
        name: "truncated chunked body",
        fault: { kind: "truncate", bytes: 300_000, mode: "chunked" },
        message: /size mismatch .* received 300000/,
      },
      {
        name: "short Content-Length",
        fault: { kind: "truncate", bytes: 300_000, mode: "length" },
        message: /size mismatch .* declared 300000/,
      },
      {
        name: "flipped byte",
        fault: { kind: "corrupt", offset: 700_000 },
        message: /digest mismatch/,
      },
    ];

    for (const { name, fault, message } of failingCases) {
      describe.sequential(name, () => {
        let image: PushedFileImage;

        beforeAll(async () => {
          image = await freshImage();
        });

        it("raw layer read fails with 502", async () => {
          addBlobFault(image, fault, 1);
          const outcome = await fetchOutcome(url(image, image.rawLayerPath));
          expect(outcome.status, describeOutcome(outcome)).toBe(502);
          expect(bodyText(outcome)).toMatch(message);
        });

        it("rootfs read fails with 502", async () => {
          addBlobFault(image, fault, 1);
          const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
          expect(outcome.status, describeOutcome(outcome)).toBe(502);
        });

        it("cache keeps nothing of the blob", async () => {
          expect(await cacheFilesOf(regdav.cacheDir, image.layer.digest)).toEqual([]);
        });

        it("next read succeeds once the fault is gone", async () => {
          const raw = await fetchOutcome(url(image, image.rawLayerPath));
          expect(bodyOf(raw)?.equals(image.layer.bytes)).toBe(true);
          const file = await fetchOutcome(url(image, "rootfs/data.bin"));
          expect(bodyOf(file)?.equals(contentOf(image))).toBe(true);
          await expectCachedIntact(image, expect);
          // The two failed reads, then one download for both good ones.
          expect(blobRequests(image).length).toBe(3);
        });
      });
    }
  });

  describe("error statuses", () => {
    // The four statuses run at once, because each one waits out the client's retries.
    it("manifest 500, 502, 503 and 504 are a 502, then recover", async ({ expect }) => {
      const checkStatus = async (status: number) => {
        const image = await freshImage();
        const manifestPath = new RegExp(`/${image.repository}/manifests/`);
        const rule = proxy.addFault({ path: manifestPath, fault: { kind: "status", status } });

        const failed = await fetchOutcome(url(image, "manifest.json"));
        expect(failed.status, describeOutcome(failed)).toBe(502);
        expect(bodyText(failed), `status ${status}`).toContain(`returned ${status}`);
        const attempts = proxy.count(manifestPath);
        expect(attempts, `status ${status}`).toBeGreaterThan(0);
        expect(attempts, `status ${status}`).toBeLessThanOrEqual(10);

        rule.remove();
        const recovered = await fetchOutcome(url(image, "manifest.json"));
        expect(recovered.status, `status ${status}`).toBe(200);
      };
      await Promise.all([500, 502, 503, 504].map(checkStatus));
    });

    it("manifest 429 names the rate limit", async ({ expect }) => {
      const image = await freshImage();
      const manifestPath = new RegExp(`/${image.repository}/manifests/`);
      const fault: Fault = { kind: "status", status: 429, headers: { "retry-after": "1" } };
      const rule = proxy.addFault({ path: manifestPath, fault });

      const started = Date.now();
      const failed = await fetchOutcome(url(image, "manifest.json"));
      expect(failed.status, describeOutcome(failed)).toBeGreaterThanOrEqual(500);
      expect(bodyText(failed)).toContain("429");
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(proxy.count(manifestPath)).toBeLessThanOrEqual(10);

      rule.remove();
      const recovered = await fetchOutcome(url(image, "manifest.json"));
      expect(recovered.status).toBe(200);
    });

    it("blob 500 is a 502 and caches nothing", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "status", status: 500 });
      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
      expect(await cacheFilesOf(regdav.cacheDir, image.layer.digest)).toEqual([]);
    });
  });

  describe("slow and stalled registry", () => {
    it("trickled body is served whole", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "trickle", chunkBytes: 128 * 1024, intervalMs: 100 }, 1);
      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
      expect(blobRequests(image).length).toBe(1);
    });

    it("stall before headers times out while others are served", async ({ expect }) => {
      const image = await freshImage();
      const other = await freshImage();
      addBlobFault(image, { kind: "stall" });

      const started = Date.now();
      const stalled = fetchOutcome(url(image, "rootfs/data.bin"));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const concurrent = await fetchOutcome(url(other, "manifest.json"));
      const concurrentMs = Date.now() - started;
      const outcome = await stalled;
      const stalledMs = Date.now() - started;

      expect(concurrent.status).toBe(200);
      expect(concurrentMs).toBeLessThan(stalledMs);
      expect(outcome.status, describeOutcome(outcome)).toBe(504);
      expect(bodyText(outcome)).toMatch(/timeout/i);
      expect(stalledMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS);
      expect(stalledMs).toBeLessThan(20_000);
      expect(await cacheFilesOf(regdav.cacheDir, image.layer.digest)).toEqual([]);
    });

    it("stall mid-body resumes", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "stall", afterBytes: 250_000 }, 1);
      const outcome = await fetchOutcome(url(image, "rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
      const ranges = blobRequests(image).map((entry) => entry.range);
      expect(ranges[0]).toBeUndefined();
      expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    });

    it("endless stall mid-body fails in bounded time", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "stall", afterBytes: 250_000 });
      const started = Date.now();
      const outcome = await fetchOutcome(url(image, image.rawLayerPath));
      expect(outcome.status, describeOutcome(outcome)).toBe(504);
      expect(Date.now() - started).toBeLessThan(40_000);
      expect(blobRequests(image).length).toBe(6);
      expect(await cacheFilesOf(regdav.cacheDir, image.layer.digest)).toEqual([]);
    }, 60_000);
  });

  describe("reads by Range of an evicted layer", () => {
    let evicting: RegdavProcess;
    let image: PushedFileImage;
    const evictedUrl = (path: string) => urlOn(evicting, image, path);
    /** Fails unless the read failed, or returned exactly `expected`: never other bytes. */
    const expectNoWrongBytes = (outcome: Outcome, expected: Buffer, expect: ExpectStatic) => {
      const failed = outcome.kind === "aborted" || outcome.status >= 500;
      const correct = outcome.status === 200 && bodyOf(outcome)?.equals(expected) === true;
      expect(failed || correct, describeOutcome(outcome)).toBe(true);
    };

    beforeAll(async () => {
      // A one-byte cache keeps only the newest blob, so an older layer is read by Range.
      evicting = await startRegdav(["--registry", proxy.host, "--cache-size", "1"]);
      image = await freshImage();
      const other = await freshImage();
      for (const target of [image, other]) {
        const outcome = await fetchOutcome(urlOn(evicting, target, "rootfs/data.bin"));
        if (outcome.status !== 200)
          throw new Error(`warm-up read failed: ${describeOutcome(outcome)}`);
      }
    });

    afterAll(() => evicting?.stop());

    // NOTE: a read of more than 1 MiB streams the bytes of a span before its
    // CRC-32 is checked, so a client can get some wrong bytes before the cut.
    // These tests check only that such a read fails.
    it.sequential("flipped byte in a Range response is no wrong read", async ({ expect }) => {
      const before = blobRequests(image).length;
      addBlobFault(image, { kind: "corrupt", offset: 1000 }, 1);
      const outcome = await fetchOutcome(evictedUrl("rootfs/data.bin"));
      expectNoWrongBytes(outcome, contentOf(image), expect);
      const ranges = blobRequests(image)
        .slice(before)
        .map((entry) => entry.range);
      expect(ranges.length).toBeGreaterThan(0);
      expect(ranges.every((range) => range !== undefined)).toBe(true);
    });

    it.sequential("reset Range response is no wrong read", async ({ expect }) => {
      addBlobFault(image, { kind: "reset", afterBytes: 100_000 }, 1);
      const outcome = await fetchOutcome(evictedUrl("rootfs/data.bin"));
      expectNoWrongBytes(outcome, contentOf(image), expect);
    });

    it.sequential(
      "flipped byte in a plain layer's Range response is no wrong read",
      async ({ expect }) => {
        const plain = await freshImage("none");
        const newer = await freshImage();
        for (const target of [plain, newer]) {
          const warm = await fetchOutcome(urlOn(evicting, target, "rootfs/data.bin"));
          expect(warm.status, describeOutcome(warm)).toBe(200);
        }
        addBlobFault(plain, { kind: "corrupt", offset: 1000 }, 1);
        const outcome = await fetchOutcome(urlOn(evicting, plain, "rootfs/data.bin"));
        expectNoWrongBytes(outcome, contentOf(plain), expect);
      },
    );

    it.sequential("read after the faults is whole", async ({ expect }) => {
      const outcome = await fetchOutcome(evictedUrl("rootfs/data.bin"));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(contentOf(image))).toBe(true);
    });
  });

  describe("unreachable registry", () => {
    it("connect timeout is a 504 in bounded time", async ({ expect }) => {
      const blackHole = await startBlackHole();
      try {
        const started = Date.now();
        const outcome = await fetchOutcome(
          `${regdav.url}${encodePath(`${blackHole.host}/any/_tags/`)}`,
        );
        expect(outcome.status, describeOutcome(outcome)).toBe(504);
        expect(bodyText(outcome)).toContain(`registry ${blackHole.host} is unreachable`);
        expect(bodyText(outcome)).toContain("UND_ERR_CONNECT_TIMEOUT");
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        blackHole.close();
      }
    });
  });

  describe("redirects", () => {
    it("redirect loop is a 502", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "redirect-loop" }, 1);
      const outcome = await fetchOutcome(url(image, image.rawLayerPath));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
      expect(bodyText(outcome)).toContain("redirected in a loop");
      expect(blobRequests(image).length).toBe(2);
    });

    it("chain of 11 redirects is a 502", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "redirect-chain", hops: 11 }, 1);
      const outcome = await fetchOutcome(url(image, image.rawLayerPath));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
      expect(bodyText(outcome)).toContain("redirected more than 10 times");
      expect(blobRequests(image).length).toBe(11);
    });

    it("chain of 10 redirects is followed", async ({ expect }) => {
      const image = await freshImage();
      addBlobFault(image, { kind: "redirect-chain", hops: 10 }, 1);
      const outcome = await fetchOutcome(url(image, image.rawLayerPath));
      expect(outcome.status, describeOutcome(outcome)).toBe(200);
      expect(bodyOf(outcome)?.equals(image.layer.bytes)).toBe(true);
      expect(blobRequests(image).length).toBe(11);
    });
  });
});
