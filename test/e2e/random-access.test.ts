import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LAYER_INDEX_VERSION } from "../../src/layer/layer-index.js";
import { gzip, zstd, makeLayerTar, type TarEntry } from "../harness/layer-tar.js";
import { makeBlob, makeImageConfig, mediaTypes, sha256Digest, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { getBytes } from "./dav-client.js";

/** Files of text that compresses like real files do, each a different size and content. */
function makeFiles(count: number, size: number): TarEntry[] {
  const entries: TarEntry[] = [{ type: "directory", path: "data" }];
  for (let n = 0; n < count; n++) {
    const lines: string[] = [];
    let length = 0;
    for (let line = 0; length < size; line++) {
      const text = `file ${n} line ${line} ${createHash("sha256").update(`${n}:${line}`).digest("hex")}\n`;
      lines.push(text);
      length += text.length;
    }
    entries.push({ type: "file", path: `data/file-${n}.txt`, content: lines.join("") });
  }
  return entries;
}

async function layerOf(entries: TarEntry[], compression: "gzip" | "zstd-frames"): Promise<LayerBlob> {
  const tar = await makeLayerTar(entries);
  let bytes: Buffer;
  let mediaType: string;
  if (compression === "gzip") {
    bytes = gzip(tar);
    mediaType = mediaTypes.ociLayerGzip;
  } else {
    // One zstd frame per MiB, as zstd --block-size or a chunked writer makes them.
    const frames: Buffer[] = [];
    for (let start = 0; start < tar.length; start += 1 << 20) {
      frames.push(await zstd(tar.subarray(start, start + (1 << 20))));
    }
    bytes = Buffer.concat(frames);
    mediaType = mediaTypes.ociLayerZstd;
  }
  return { ...makeBlob(mediaType, bytes), diffId: sha256Digest(tar), uncompressed: tar, entries };
}

function contentOf(entries: TarEntry[], path: string): Buffer {
  const entry = entries.find((candidate) => candidate.path === path);
  if (!entry || entry.type !== "file") throw new Error(`no file ${path} in the test layer`);
  return Buffer.from(entry.content ?? "");
}

/** Blob GETs that regdav logged at debug level, with the Range header each sent. */
function blobRequests(output: string): { range: string | undefined; status: number }[] {
  return output
    .split("\n")
    .filter((line) => line.includes("http request") && line.includes("/blobs/sha256:") && line.includes("method=GET"))
    .map((line) => ({
      range: /range="?(bytes=\d+-\d+)/.exec(line)?.[1],
      status: Number(/status=(\d+)/.exec(line)?.[1]),
    }));
}

describe("random access into compressed layers", () => {
  let registry: TestRegistry;
  const files = makeFiles(60, 300_000);
  const layers: Record<string, LayerBlob> = {};

  beforeAll(async () => {
    registry = await startRegistry();
    for (const kind of ["gzip", "zstd-frames"] as const) {
      const layer = await layerOf(files, kind);
      layers[kind] = layer;
      const config = makeImageConfig({ layers: [layer] });
      await pushImage(registry.host, `bench/${kind}`, "v1", { layers: [layer], config, format: "oci" });
    }
    const filler = await layerOf([{ type: "file", path: "filler.txt", content: "filler\n" }], "gzip");
    const config = makeImageConfig({ layers: [filler] });
    await pushImage(registry.host, "bench/filler", "v1", { layers: [filler], config, format: "oci" });
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
  });

  describe("after eviction", () => {
    let regdav: RegdavProcess;
    const file = (kind: string, path: string) => `${regdav.url}${registry.host}/bench/${kind}/_tags/v1/rootfs/${path}`;

    beforeAll(async () => {
      // A cache of 1 byte keeps only the newest blob: reading one image's
      // layer evicts the other's, as a full cache would.
      regdav = await startRegdav(["--registry", registry.host, "--cache-size", "1", "--log-level", "debug"]);
      for (const kind of ["gzip", "zstd-frames", "filler"]) {
        const path = kind === "filler" ? "filler.txt" : "data/file-3.txt";
        await getBytes(file(kind, path));
      }
    });

    afterAll(async () => {
      await regdav?.stop();
    });

    for (const kind of ["gzip", "zstd-frames"] as const) {
      describe(kind, () => {
        it("evicted blob is gone but its indexes stay", async () => {
          const hex = layers[kind]!.digest.slice(7);
          const blobs = await readdir(join(regdav.cacheDir, "blobs", "sha256"));
          expect(blobs).not.toContain(hex);
          const indexes = await readdir(join(regdav.cacheDir, "indexes", "sha256"));
          expect(indexes).toContain(`${hex}.v${LAYER_INDEX_VERSION}.json`);
          expect(indexes).toContain(`${hex}.entries.v${LAYER_INDEX_VERSION}.jsonl`);
          expect(indexes).toContain(`${hex}.access.v1.bin`);
        });

        it("read after eviction fetches one small range", async () => {
          const before = blobRequests(regdav.output()).length;
          const path = "data/file-51.txt";
          expect((await getBytes(file(kind, path))).equals(contentOf(files, path))).toBe(true);

          const after = blobRequests(regdav.output()).slice(before);
          expect(after).toHaveLength(1);
          expect(after[0]!.status).toBe(206);
          const [start, end] = after[0]!.range!.replace("bytes=", "").split("-").map(Number);
          expect(end! - start! + 1).toBeLessThan(layers[kind]!.size / 2);
        });

        it("ranges inside a file match the full bytes", async () => {
          const path = "data/file-40.txt";
          const whole = contentOf(files, path);
          const ranges = [[0, 0], [1000, 250_000], [whole.length - 10, whole.length - 1]] as const;
          for (const [start, end] of ranges) {
            const part = await getBytes(file(kind, path), { Range: `bytes=${start}-${end}` });
            expect(part.equals(whole.subarray(start, end + 1))).toBe(true);
          }
        });
      });
    }
  });

  describe("damaged random-access index", () => {
    it("names the layer and the file", async () => {
      // Passed to both processes, so that stopping the first keeps it.
      const cacheDir = await mkdtemp(join(tmpdir(), "regdav-damaged-index-"));
      const first = await startRegdav(["--registry", registry.host], { cacheDir });
      const url = (server: RegdavProcess) => `${server.url}${registry.host}/bench/gzip/_tags/v1/rootfs/data/file-7.txt`;
      try {
        expect((await getBytes(url(first))).equals(contentOf(files, "data/file-7.txt"))).toBe(true);
      } finally {
        await first.stop();
      }
      const hex = layers.gzip!.digest.slice(7);
      await rm(join(cacheDir, "blobs", "sha256", hex));
      const accessPath = join(cacheDir, "indexes", "sha256", `${hex}.access.v1.bin`);
      await writeFile(accessPath, "not an index");

      const second = await startRegdav(["--registry", registry.host], { cacheDir });
      try {
        const response = await fetch(url(second));
        const body = await response.text();
        expect(response.status).toBeGreaterThanOrEqual(500);
        expect(body).toContain(layers.gzip!.digest);
        expect(body).toContain(accessPath);
        expect(body).toContain("missing the RDRA magic");
        expect((await fetch(`${second.url}`, { method: "OPTIONS" })).status).toBe(200);
      } finally {
        await second.stop();
        await rm(cacheDir, { recursive: true, force: true });
      }
    });
  });

  describe("registry that ignores Range", () => {
    let proxy: Server;
    let regdav: RegdavProcess;
    let proxyHost: string;

    beforeAll(async () => {
      proxy = createServer((incoming, outgoing) => {
        const headers = { ...incoming.headers, host: registry.host };
        delete headers.range;
        const upstream = httpRequest(`${registry.url}${incoming.url}`, { method: incoming.method, headers }, (reply) => {
          outgoing.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(outgoing);
        });
        incoming.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const address = proxy.address();
      proxyHost = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      regdav = await startRegdav(["--registry", proxyHost, "--cache-size", "1", "--log-level", "debug"]);
    });

    afterAll(async () => {
      await regdav?.stop();
      await new Promise((resolve) => proxy?.close(resolve));
    });

    it("falls back to the whole blob and says so", async () => {
      const url = (kind: string, path: string) => `${regdav.url}${proxyHost}/bench/${kind}/_tags/v1/rootfs/${path}`;
      expect((await getBytes(url("gzip", "data/file-1.txt"))).equals(contentOf(files, "data/file-1.txt"))).toBe(true);
      await getBytes(url("filler", "filler.txt"));
      expect((await getBytes(url("gzip", "data/file-55.txt"))).equals(contentOf(files, "data/file-55.txt"))).toBe(true);
      expect(regdav.output()).toContain("registry ignores Range requests, caching the layer whole");
    });
  });
});
