import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeEstargzLayerOf } from "../harness/estargz.js";
import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { gzip, makeBlob, makeImageConfig, makeLayerTar, mediaTypes, sha256Digest, type TarEntry } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeZstdChunkedLayer, OLD_ZSTD_CHUNKED_PREFIX, type TocLayer } from "../harness/zstd-chunked.js";
import { contentOf, noise, sampleEntries } from "../layer/toc/toc-fixtures.js";
import { davRequest, getBytes, listEntries } from "./dav-client.js";
import { listTree, pushAnnotatedImage, rangeBytes, sha256, type ListedEntry } from "./toc-images.js";

/** Returns the sample entries plus enough incompressible files that the blob is several MiB. */
function imageEntries(extra: string): TarEntry[] {
  const entries = sampleEntries();
  entries.push({ type: "directory", path: "bulk" });
  for (let n = 0; n < 24; n++) entries.push({ type: "file", path: `bulk/file-${n}.bin`, content: noise(200_000, 100 + n) });
  entries.push({ type: "file", path: "variant.txt", content: `${extra}\n` });
  return entries;
}

/** Returns the repository of a test layer: its name in kebab case, as repository names are lowercase. */
function repositoryOf(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Returns the blob GETs that reached the registry through the proxy for one digest. */
function blobGets(proxy: FaultProxy, digest: string) {
  return proxy.requests.filter((request) => request.method === "GET" && request.url.includes(`/blobs/${digest}`));
}

describe("eStargz and zstd:chunked layers", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  const entries = imageEntries("main");
  const layers: Record<string, TocLayer> = {};
  const image = (repository: string) => `${regdav.url}${proxy.host}/${repository}/_tags/v1/rootfs/`;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);

    const tar = await makeLayerTar(entries);
    const gzipLayer = { ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)), diffId: sha256Digest(tar) };
    await pushImage(registry.host, "toc/gzip", "v1", { layers: [gzipLayer], config: makeImageConfig({ layers: [gzipLayer] }), format: "oci" });

    layers.zstd = await makeZstdChunkedLayer(entries);
    layers.estargz = await makeEstargzLayerOf(entries);
    layers.oldPrefix = await makeZstdChunkedLayer(imageEntries("old prefix"), { annotationPrefix: OLD_ZSTD_CHUNKED_PREFIX });
    layers.badDigest = await makeZstdChunkedLayer(imageEntries("bad digest"));
    layers.corrupt = await makeZstdChunkedLayer(imageEntries("corrupt"));
    layers.corruptEstargz = await makeEstargzLayerOf(imageEntries("corrupt estargz"));
    layers.noRange = await makeEstargzLayerOf(imageEntries("no range"));
    for (const [name, layer] of Object.entries(layers)) {
      const annotations = { ...layer.annotations };
      if (name === "badDigest") annotations["io.github.containers.zstd-chunked.manifest-checksum"] = "sha256:" + "0".repeat(64);
      await pushAnnotatedImage(registry.host, `toc/${repositoryOf(name)}`, layer, annotations);
    }

    regdav = await startRegdav(["--registry", proxy.host, "--log-level", "info"]);
  }, 180_000);

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  for (const kind of ["zstd", "estargz", "oldPrefix"] as const) {
    describe(kind, () => {
      it("listing matches the gzip image", async () => {
        const expected = await listTree(image("toc/gzip"));
        const listed = await listTree(image(`toc/${repositoryOf(kind)}`));
        // The eStargz TOC is a tar entry of its own layer, so only that image lists it.
        const ownEntries = new Set(["variant.txt", "stargz.index.json"]);
        const withoutVariant = (list: ListedEntry[]) => list.filter((entry) => !ownEntries.has(entry.path));
        expect(withoutVariant(listed)).toEqual(withoutVariant(expected));
        expect(listed.some((entry) => entry.path === "stargz.index.json")).toBe(kind === "estargz");
        expect(listed.some((entry) => entry.path === "data/big.bin" && entry.size === 300_000)).toBe(true);
      });

      it("listing fetches ranges only", async () => {
        await listTree(image(`toc/${repositoryOf(kind)}`));
        const layer = layers[kind]!;
        const gets = blobGets(proxy, layer.digest);
        expect(gets.length).toBeGreaterThan(0);
        expect(gets.every((request) => request.range !== undefined)).toBe(true);
        const fetched = gets.reduce((sum, request) => sum + rangeBytes(request.range), 0);
        expect(fetched).toBeLessThan(layer.size / 20);
      });

      it("cat returns the file bytes by Range", async () => {
        await listTree(image(`toc/${repositoryOf(kind)}`));
        const layer = layers[kind]!;
        const before = blobGets(proxy, layer.digest).length;
        for (const path of ["data/big.bin", "bulk/file-7.bin", "etc/hello.txt", "data/holes.bin"]) {
          const bytes = await getBytes(image(`toc/${repositoryOf(kind)}`) + path);
          expect(sha256(bytes), path).toBe(sha256(contentOf(entries, path)));
        }
        const reads = blobGets(proxy, layer.digest).slice(before);
        expect(reads.every((request) => request.range !== undefined)).toBe(true);
        expect(reads.length).toBeLessThanOrEqual(6);
        expect(reads.reduce((sum, request) => sum + rangeBytes(request.range), 0)).toBeLessThan(layer.size / 2);
      });

      it("layer folder lists the same files", async () => {
        const layersUrl = `${regdav.url}${proxy.host}/toc/${repositoryOf(kind)}/_tags/v1/layers/`;
        const folder = (await listEntries(layersUrl)).find((entry) => entry.isFolder);
        expect(folder).toBeDefined();
        const listed = await listTree(`${layersUrl}${encodeURIComponent(folder!.name)}/`);
        expect(listed).toEqual(await listTree(image(`toc/${repositoryOf(kind)}`)));
        expect(blobGets(proxy, layers[kind]!.digest).every((request) => request.range !== undefined)).toBe(true);
      });

      it("byte ranges inside a chunked file", async () => {
        const whole = contentOf(entries, "data/big.bin");
        for (const [start, end] of [[0, 0], [65_530, 65_545], [100_000, 299_999]] as const) {
          const part = await getBytes(image(`toc/${repositoryOf(kind)}`) + "data/big.bin", { Range: `bytes=${start}-${end}` });
          expect(part.equals(whole.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
        }
      });
    });
  }

  it("TOC digest mismatch falls back to the pass", async () => {
    const layer = layers.badDigest!;
    const listed = await listTree(image("toc/bad-digest"));
    expect(listed.some((entry) => entry.path === "bulk/file-3.bin")).toBe(true);
    const bytes = await getBytes(image("toc/bad-digest") + "bulk/file-3.bin");
    expect(sha256(bytes)).toBe(sha256(contentOf(entries, "bulk/file-3.bin")));

    const warning = regdav.output().split("\n").find((line) => line.includes("table of contents unusable") && line.includes(layer.digest));
    expect(warning).toBeDefined();
    expect(warning).toContain("but the manifest annotation states sha256:0000");
    expect(blobGets(proxy, layer.digest).some((request) => request.range === undefined)).toBe(true);
  });

  for (const kind of ["corrupt", "corruptEstargz"] as const) {
    it(`${kind}: changed chunk fails only its file`, async () => {
      const layer = layers[kind]!;
      await listTree(image(`toc/${repositoryOf(kind)}`));

      // Change bytes inside the third chunk of data/big.bin on the registry's disk.
      const chunk = layer.toc.entries.filter((entry) => String(entry.name).endsWith("data/big.bin"))[2]!;
      const hex = layer.digest.slice("sha256:".length);
      const dataFile = join(registry.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
      const stored = await readFile(dataFile);
      const offset = (chunk.offset as number) + 40;
      stored[offset] = stored[offset]! ^ 0x5a;
      await writeFile(dataFile, stored);

      const response = await davRequest(image(`toc/${repositoryOf(kind)}`) + "data/big.bin");
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain(layer.digest);
      expect(response.body.toString()).toContain("data/big.bin");

      const other = await getBytes(image(`toc/${repositoryOf(kind)}`) + "bulk/file-5.bin");
      expect(sha256(other)).toBe(sha256(contentOf(entries, "bulk/file-5.bin")));
      const head = await getBytes(image(`toc/${repositoryOf(kind)}`) + "data/big.bin", { Range: "bytes=0-1000" });
      expect(head.equals(contentOf(entries, "data/big.bin").subarray(0, 1001))).toBe(true);
    });
  }

  it("registry that ignores Range falls back to the pass", async () => {
    const layer = layers.noRange!;
    const rule = proxy.addFault({ path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: "ignore-range" } });
    try {
      const listed = await listTree(image("toc/no-range"));
      expect(listed.some((entry) => entry.path === "bulk/file-9.bin")).toBe(true);
      const bytes = await getBytes(image("toc/no-range") + "bulk/file-9.bin");
      expect(sha256(bytes)).toBe(sha256(contentOf(entries, "bulk/file-9.bin")));
      const warning = regdav.output().split("\n").find((line) => line.includes("table of contents unusable") && line.includes(layer.digest));
      expect(warning).toContain("ignores Range");
      expect(rule.hits).toBeGreaterThan(0);
    } finally {
      rule.remove();
    }
  });

  it("docker archive export uses the tar pass", async () => {
    const layer = layers.zstd!;
    const archive = await getBytes(`${regdav.url}${proxy.host}/toc/zstd/_tags/v1/docker-archive/image.tar`);
    expect(archive.indexOf(layer.uncompressed)).toBeGreaterThan(0);
    expect(archive.toString("latin1")).toContain(layer.diffId.slice("sha256:".length));
  });

  describe("zstd:chunked from skopeo", () => {
    let converted: { digest: string; annotations: Record<string, string>; size: number };
    // skopeo keeps a cache of the blobs it has converted across runs, so a
    // layer of its own content each run makes it convert instead of reusing.
    const sourceEntries = imageEntries(`skopeo ${process.pid} ${Date.now()}`);

    beforeAll(async () => {
      const tar = await makeLayerTar(sourceEntries);
      const gzipLayer = { ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)), diffId: sha256Digest(tar) };
      await pushImage(registry.host, "toc/skopeo-source", "v1", { layers: [gzipLayer], config: makeImageConfig({ layers: [gzipLayer] }), format: "oci" });
      await runSkopeo([], "copy", [
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-compress",
        "--dest-compress-format",
        "zstd:chunked",
        `docker://${registry.host}/toc/skopeo-source:v1`,
        `docker://${registry.host}/toc/skopeo:v1`,
      ]);
      const response = await fetch(`${registry.url}/v2/toc/skopeo/manifests/v1`, { headers: { Accept: mediaTypes.ociManifest } });
      const manifest = (await response.json()) as { layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
      converted = { ...manifest.layers[0]!, annotations: manifest.layers[0]!.annotations ?? {} };
    }, 180_000);

    it("skopeo wrote zstd:chunked annotations", () => {
      const keys = Object.keys(converted.annotations);
      expect(keys.some((key) => /zstd-chunked\.manifest-position$/.test(key))).toBe(true);
      expect(keys.some((key) => /zstd-chunked\.manifest-checksum$/.test(key))).toBe(true);
    });

    it("listing and reads use ranges only", async () => {
      const listed = await listTree(image("toc/skopeo"));
      const expected = await listTree(image("toc/gzip"));
      const withoutVariant = (list: ListedEntry[]) => list.filter((entry) => entry.path !== "variant.txt");
      expect(withoutVariant(listed)).toEqual(withoutVariant(expected));

      for (const path of ["data/big.bin", "bulk/file-11.bin", "data/text.txt", "variant.txt"]) {
        const bytes = await getBytes(image("toc/skopeo") + path);
        expect(sha256(bytes), path).toBe(sha256(contentOf(sourceEntries, path)));
      }
      const gets = blobGets(proxy, converted.digest);
      expect(gets.length).toBeGreaterThan(0);
      expect(gets.every((request) => request.range !== undefined)).toBe(true);
      expect(gets.reduce((sum, request) => sum + rangeBytes(request.range), 0)).toBeLessThan(converted.size / 2);
      expect(regdav.output()).not.toContain(`table of contents unusable, indexing the whole layer instead digest=${converted.digest}`);
    });
  });
});
