import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { gzip, makeBlob, makeLayerTar, mediaTypes, sha256Digest, type TarEntry } from "../harness/image-builder.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { buildZtoc } from "../harness/ztoc-writer.js";
import { contentOf, noise, sampleEntries } from "../layer/toc/toc-fixtures.js";
import { davRequest, getBytes } from "./dav-client.js";
import { pushReferrersTag, pushSociImage, pushSociIndex, SOCI_INDEX_DIGEST, type GzipLayer } from "./soci-images.js";
import { listTree, rangeBytes, sha256, type ListedEntry } from "./toc-images.js";

/** Uncompressed bytes between zTOC checkpoints: small, so that the test layers have many spans. */
const SPAN_SIZE = 256 * 1024;

/** Returns the sample entries plus incompressible files, so that the layer is several MiB. */
function imageEntries(variant: string): TarEntry[] {
  const entries = sampleEntries();
  entries.push({ type: "directory", path: "bulk" });
  for (let n = 0; n < 24; n++) entries.push({ type: "file", path: `bulk/file-${n}.bin`, content: noise(200_000, 300 + n) });
  entries.push({ type: "file", path: "bulk/text.txt", content: "line of text\n".repeat(100_000) });
  entries.push({ type: "file", path: "variant.txt", content: `${variant}\n` });
  return entries;
}

async function gzipLayerOf(entries: TarEntry[]): Promise<GzipLayer> {
  const tar = await makeLayerTar(entries);
  return { ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)), diffId: sha256Digest(tar) };
}

function withoutVariant(list: ListedEntry[]): ListedEntry[] {
  return list.filter((entry) => entry.path !== "variant.txt");
}

describe("SOCI zTOC layers", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  const layers: Record<string, { layer: GzipLayer; entries: TarEntry[] }> = {};
  const rootfs = (repository: string) => `${regdav.url}${proxy.host}/${repository}/_tags/v1/rootfs/`;
  const blobGets = (digest: string) =>
    proxy.requests.filter((request) => request.method === "GET" && request.url.includes(`/blobs/${digest}`));

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    const host = registry.host;

    for (const name of ["plain", "v1", "v2", "corrupt", "wrong-layer", "export", "shifted"]) {
      const entries = imageEntries(name);
      layers[name] = { layer: await gzipLayerOf(entries), entries };
    }
    await pushSociImage(host, "soci/plain", "v1", layers.plain!.layer);

    // v1: the index refers to the image, and is found through the referrers tag.
    const v1 = layers.v1!.layer;
    const v1Image = await pushSociImage(host, "soci/v1", "v1", v1);
    const v1Index = await pushSociIndex(host, "soci/v1", {
      version: "v1",
      subject: v1Image,
      ztocs: new Map([[v1.digest, buildZtoc(v1.bytes, { spanSize: SPAN_SIZE }).bytes]]),
    });
    await pushReferrersTag(host, "soci/v1", v1Image, [v1Index]);

    // v2: the image manifest names its index, as a SOCI-enabled image does.
    for (const name of ["v2", "corrupt", "export"]) {
      const layer = layers[name]!.layer;
      const index = await pushSociIndex(host, `soci/${name}`, {
        version: "v2",
        ztocs: new Map([[layer.digest, buildZtoc(layer.bytes, { spanSize: SPAN_SIZE }).bytes]]),
      });
      await pushSociImage(host, `soci/${name}`, "v1", layer, { [SOCI_INDEX_DIGEST]: index.digest });
    }

    // A zTOC that places one file's content 512 bytes too far, inside the file itself.
    const shifted = layers.shifted!.layer;
    const shiftedZtoc = buildZtoc(shifted.bytes, {
      spanSize: SPAN_SIZE,
      mutate: (plan) => {
        const file = plan.files.find((candidate) => candidate.name.endsWith("bulk/file-9.bin"))!;
        file.contentOffset = Number(file.contentOffset) + 512;
      },
    });
    const shiftedIndex = await pushSociIndex(host, "soci/shifted", { version: "v2", ztocs: new Map([[shifted.digest, shiftedZtoc.bytes]]) });
    await pushSociImage(host, "soci/shifted", "v1", shifted, { [SOCI_INDEX_DIGEST]: shiftedIndex.digest });

    // A zTOC of another, much smaller layer, stored under this layer's digest.
    const wrong = layers["wrong-layer"]!.layer;
    const other = await gzipLayerOf(sampleEntries());
    const wrongIndex = await pushSociIndex(host, "soci/wrong-layer", {
      version: "v2",
      ztocs: new Map([[wrong.digest, buildZtoc(other.bytes, { spanSize: SPAN_SIZE }).bytes]]),
    });
    await pushSociImage(host, "soci/wrong-layer", "v1", wrong, { [SOCI_INDEX_DIGEST]: wrongIndex.digest });

    regdav = await startRegdav(["--registry", proxy.host, "--log-level", "info"]);
  }, 180_000);

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  for (const version of ["v1", "v2"] as const) {
    describe(version, () => {
      it("listing matches the pass", async () => {
        const expected = await listTree(rootfs("soci/plain"));
        const listed = await listTree(rootfs(`soci/${version}`));
        expect(withoutVariant(listed)).toEqual(withoutVariant(expected));
        expect(listed.some((entry) => entry.path === "bulk/file-7.bin" && entry.size === 200_000)).toBe(true);
        expect(blobGets(layers.plain!.layer.digest).some((request) => request.range === undefined)).toBe(true);
      });

      it("listing fetches no layer bytes", async () => {
        await listTree(rootfs(`soci/${version}`));
        expect(blobGets(layers[version]!.layer.digest)).toHaveLength(0);
        expect(regdav.output()).toContain(`layer listed from its SOCI zTOC digest=${layers[version]!.layer.digest}`);
      });

      it("cat returns file bytes by Range", async () => {
        const { layer, entries } = layers[version]!;
        await listTree(rootfs(`soci/${version}`));
        for (const path of ["bulk/file-0.bin", "bulk/file-13.bin", "bulk/text.txt", "etc/hello.txt", "variant.txt", "data/big.bin"]) {
          const bytes = await getBytes(rootfs(`soci/${version}`) + path);
          expect(sha256(bytes), path).toBe(sha256(contentOf(entries, path)));
        }
        const gets = blobGets(layer.digest);
        expect(gets.length).toBeGreaterThan(0);
        expect(gets.every((request) => request.range !== undefined)).toBe(true);
        expect(gets.reduce((sum, request) => sum + rangeBytes(request.range), 0)).toBeLessThan(layer.size / 2);
      });

      it("byte ranges across spans", async () => {
        const whole = contentOf(layers[version]!.entries, "bulk/text.txt");
        const ranges = [[0, 0], [262_140, 262_150], [500_000, 1_299_999], [whole.length - 5, whole.length - 1]] as const;
        for (const [start, end] of ranges) {
          const part = await getBytes(rootfs(`soci/${version}`) + "bulk/text.txt", { Range: `bytes=${start}-${end}` });
          expect(part.equals(whole.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
        }
      });
    });
  }

  it("image without index probes with HEAD", async () => {
    await listTree(rootfs("soci/plain"));
    const probes = proxy.requests.filter((request) => request.url.includes("/v2/soci/plain/manifests/sha256-"));
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.map((request) => request.method)).toEqual(probes.map(() => "HEAD"));
  });

  it("restart lists from the stored zTOC", async () => {
    const { layer, entries } = layers.v2!;
    await listTree(rootfs("soci/v2"));
    const restarted = await startRegdav(["--registry", proxy.host, "--log-level", "info"], { cacheDir: regdav.cacheDir });
    try {
      const before = proxy.requests.length;
      const url = `${restarted.url}${proxy.host}/soci/v2/_tags/v1/rootfs/`;
      const listed = await listTree(url);
      expect(listed.some((entry) => entry.path === "bulk/file-3.bin")).toBe(true);
      const blobRequests = proxy.requests.slice(before).filter((request) => request.url.includes("/blobs/"));
      expect(blobRequests).toEqual([]);

      const bytes = await getBytes(url + "bulk/file-3.bin");
      expect(sha256(bytes)).toBe(sha256(contentOf(entries, "bulk/file-3.bin")));
      const reads = proxy.requests.slice(before).filter((request) => request.url.includes(`/blobs/${layer.digest}`));
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((request) => request.range !== undefined)).toBe(true);
    } finally {
      await restarted.stop();
    }
  });

  it("--ignore-tocs runs the pass", async () => {
    const { layer, entries } = layers.v1!;
    const before = proxy.requests.length;
    const strict = await startRegdav(["--registry", proxy.host, "--log-level", "info", "--ignore-tocs"]);
    try {
      const url = `${strict.url}${proxy.host}/soci/v1/_tags/v1/rootfs/`;
      expect(sha256(await getBytes(url + "bulk/file-5.bin"))).toBe(sha256(contentOf(entries, "bulk/file-5.bin")));
      const gets = proxy.requests.slice(before).filter((request) => request.method === "GET" && request.url.includes(`/blobs/${layer.digest}`));
      expect(gets.some((request) => request.range === undefined)).toBe(true);
      expect(strict.output()).not.toContain("SOCI zTOC");
      expect(strict.output()).toContain(`layer indexed digest=${layer.digest}`);
    } finally {
      await strict.stop();
    }
  });

  it("changed span fails only its read", async () => {
    const { layer, entries } = layers.corrupt!;
    await listTree(rootfs("soci/corrupt"));
    const rule = proxy.addFault({ path: new RegExp(`/blobs/${layer.digest}$`), times: 1, fault: { kind: "corrupt", offset: 100 } });
    try {
      const response = await davRequest(rootfs("soci/corrupt") + "bulk/file-9.bin");
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain(layer.digest);
      expect(response.body.toString()).toContain("does not match its zTOC digest");
      expect(rule.hits).toBe(1);
    } finally {
      rule.remove();
    }
    // Nothing of the failed read was kept: the same file reads right once the registry serves the right bytes.
    const again = await getBytes(rootfs("soci/corrupt") + "bulk/file-9.bin");
    expect(sha256(again)).toBe(sha256(contentOf(entries, "bulk/file-9.bin")));
  });

  it("misplaced file rejects the zTOC", async () => {
    const { layer } = layers.shifted!;
    const listed = await listTree(rootfs("soci/shifted"));
    expect(listed.some((entry) => entry.path === "bulk/file-9.bin")).toBe(true);
    const response = await davRequest(rootfs("soci/shifted") + "bulk/file-9.bin", "GET", { Range: "bytes=1000-1999" });
    expect(response.status).toBe(502);
    expect(response.body.toString()).toContain(layer.digest);
    expect(response.body.toString()).toContain("the zTOC places a file of 200000 bytes at tar offset");
    // The zTOC is proven wrong, so no other file of the layer is read through it.
    const other = await davRequest(rootfs("soci/shifted") + "bulk/file-10.bin");
    expect(other.status).toBe(502);
    expect(other.body.toString()).toContain("--ignore-tocs");
    expect(regdav.output()).toContain(`layer zTOC found wrong, no more reads of the layer are served through it digest=${layer.digest}`);
  });

  it("rejected zTOC stays rejected after restart", async () => {
    const { layer, entries } = layers.shifted!;
    await listTree(rootfs("soci/shifted"));
    const rejected = await davRequest(rootfs("soci/shifted") + "bulk/file-9.bin", "GET", { Range: "bytes=1000-1999" });
    expect(rejected.status).toBe(502);

    const restarted = await startRegdav(["--registry", proxy.host, "--log-level", "info"], { cacheDir: regdav.cacheDir });
    try {
      const before = proxy.requests.length;
      const url = `${restarted.url}${proxy.host}/soci/shifted/_tags/v1/rootfs/`;
      const bytes = await getBytes(url + "bulk/file-9.bin");
      expect(sha256(bytes)).toBe(sha256(contentOf(entries, "bulk/file-9.bin")));
      const gets = proxy.requests.slice(before).filter((request) => request.method === "GET" && request.url.includes(`/blobs/${layer.digest}`));
      expect(gets.some((request) => request.range === undefined)).toBe(true);
      expect(restarted.output()).toContain(`layer SOCI zTOC was found wrong before, indexing the whole layer instead digest=${layer.digest}`);
      expect(restarted.output()).toContain(`layer indexed digest=${layer.digest}`);
    } finally {
      await restarted.stop();
    }
  });

  it("zTOC of another layer falls back to the pass", async () => {
    const { layer, entries } = layers["wrong-layer"]!;
    const listed = await listTree(rootfs("soci/wrong-layer"));
    expect(listed.find((entry) => entry.path === "variant.txt")?.size).toBe("wrong-layer\n".length);
    const bytes = await getBytes(rootfs("soci/wrong-layer") + "variant.txt");
    expect(bytes.toString()).toBe("wrong-layer\n");
    expect(sha256(await getBytes(rootfs("soci/wrong-layer") + "bulk/file-2.bin"))).toBe(sha256(contentOf(entries, "bulk/file-2.bin")));

    const warning = regdav.output().split("\n").find((line) => line.includes("SOCI zTOC unusable") && line.includes(layer.digest));
    expect(warning).toBeDefined();
    expect(warning).toContain("compressed bytes, but the manifest gives");
    expect(blobGets(layer.digest).some((request) => request.range === undefined)).toBe(true);
  });

  it("docker archive export uses the tar pass", async () => {
    const { layer } = layers.export!;
    await listTree(rootfs("soci/export"));
    expect(blobGets(layer.digest)).toHaveLength(0);
    const archive = await getBytes(`${regdav.url}${proxy.host}/soci/export/_tags/v1/docker-archive/image.tar`);
    expect(archive.toString("latin1")).toContain(layer.diffId.slice("sha256:".length));
    expect(blobGets(layer.digest).some((request) => request.range === undefined)).toBe(true);
  });
});
