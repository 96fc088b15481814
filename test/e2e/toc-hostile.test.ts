import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { defaultLayerLimits } from "../../src/layer/layer-limits.js";
import { readLayerToc } from "../../src/layer/toc/read-layer-toc.js";
import { locateToc } from "../../src/layer/toc/toc-annotations.js";

import { makeEstargzLayerOf } from "../harness/estargz.js";
import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { gzip, makeBlob, makeImageConfig, makeLayerTar, mediaTypes, sha256Digest, type TarEntry } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeZstdChunkedLayer, type TocLayer, type ZstdChunkedOptions } from "../harness/zstd-chunked.js";
import { contentOf, noise, sampleEntries } from "../layer/toc/toc-fixtures.js";
import { davRequest, getBytes } from "./dav-client.js";
import { listTree, pushAnnotatedImage, sha256 } from "./toc-images.js";

type EditToc = NonNullable<ZstdChunkedOptions["editToc"]>;
type TocEntryFields = Record<string, unknown>;

function entryNamed(toc: { entries: TocEntryFields[] }, name: string): TocEntryFields {
  const entry = toc.entries.find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`no entry ${name} in the test TOC`);
  return entry;
}

function chunksOf(toc: { entries: TocEntryFields[] }, name: string): TocEntryFields[] {
  return toc.entries.filter((entry) => entry.name === name && (entry.type === "reg" || entry.type === "chunk"));
}

/** Pushes the same tar as a plain gzip layer, so the tar pass shows what the tar contains. */
async function pushGzipImage(host: string, repository: string, entries: readonly TarEntry[]) {
  const tar = await makeLayerTar(entries);
  const layer = { ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)), diffId: sha256Digest(tar) };
  await pushImage(host, repository, "v1", { layers: [layer], config: makeImageConfig({ layers: [layer] }), format: "oci" });
}

/** Entries with duplicate names, a file replaced by a folder, and links that point nowhere or in circles. */
function oddEntries(): TarEntry[] {
  return [
    { type: "file", path: "dup.txt", content: "first\n" },
    { type: "file", path: "dup.txt", content: "second, longer\n" },
    { type: "file", path: "node", content: "a file first\n" },
    { type: "directory", path: "node" },
    { type: "file", path: "node/inside.txt", content: "inside\n" },
    { type: "hardlink", path: "hard-missing", target: "no/such/file" },
    { type: "hardlink", path: "hard-self", target: "hard-self" },
    { type: "hardlink", path: "hard-later", target: "later.txt" },
    { type: "file", path: "later.txt", content: "later\n" },
    { type: "symlink", path: "loop-a", target: "loop-b" },
    { type: "symlink", path: "loop-b", target: "loop-a" },
    { type: "file", path: "big.bin", content: noise(200_000, 5) },
    { type: "file", path: ".wh.", content: "" },
    { type: "file", path: "w/.wh..", content: "" },
    { type: "directory", path: "w/.wh..wh..opq" },
    { type: "file", path: "w/.wh..wh..opq/hidden.txt", content: "hidden\n" },
    { type: "file", path: "w/kept.txt", content: "kept\n" },
    { type: "file", path: "w/.wh.kept.txt", content: "" },
  ];
}

function warningFor(regdav: RegdavProcess, digest: string): string | undefined {
  return regdav.output().split("\n").find((line) => line.includes("table of contents unusable") && line.includes(digest));
}

describe("hostile eStargz and zstd:chunked layers", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  const entries = sampleEntries();
  const layers: Record<string, TocLayer> = {};
  const image = (repository: string) => `${regdav.url}${proxy.host}/${repository}/_tags/v1/rootfs/`;

  const edits: Record<string, { build: "zstd" | "estargz"; edit?: EditToc; entries?: TarEntry[] }> = {
    traversal: {
      build: "zstd",
      edit: (toc) => {
        entryNamed(toc, "etc/hello.txt").name = "../../etc/passwd";
        entryNamed(toc, "data/small.bin").name = "/abs/path";
        for (const entry of chunksOf(toc, "data/text.txt")) entry.name = "a/../../b";
        entryNamed(toc, "etc/empty").name = "./x";
      },
    },
    nulName: { build: "estargz", edit: (toc) => (entryNamed(toc, "etc/hello.txt").name = "etc/hello\u0000.txt") },
    zerosLie: { build: "zstd", edit: (toc) => (chunksOf(toc, "data/big.bin")[1]!.chunkType = "zeros") },
    objectBomb: { build: "zstd", edit: (toc) => (toc.entries = Array.from({ length: 4_500_000 }, () => ({}))) },
    huge: { build: "zstd", edit: (toc) => (entryNamed(toc, "data/big.bin").size = 2 ** 53) },
    odd: { build: "zstd", entries: oddEntries() },
    oddEstargz: { build: "estargz", entries: oddEntries() },
    shortRange: { build: "estargz" },
    changed: { build: "zstd" },
    rangeIgnored: { build: "zstd" },
  };
  const repositoryOf = (name: string) => `hostile/${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    for (const [name, { build, edit, entries: layerEntries }] of Object.entries(edits)) {
      const source = layerEntries ?? entries;
      layers[name] = build === "zstd" ? await makeZstdChunkedLayer(source, { editToc: edit }) : await makeEstargzLayerOf(source, { editToc: edit });
      await pushAnnotatedImage(registry.host, repositoryOf(name), layers[name]!, layers[name]!.annotations);
    }
    await pushGzipImage(registry.host, "hostile/odd-gzip", oddEntries());
    await pushGzipImage(registry.host, "hostile/sample-gzip", entries);
    regdav = await startRegdav(["--registry", proxy.host, "--log-level", "info"]);
  }, 180_000);

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  it("dot-dot and absolute names stay inside", async () => {
    const listed = await listTree(image(repositoryOf("traversal")));
    const paths = listed.map((entry) => entry.path);
    expect(paths).toContain("etc/passwd");
    expect(paths).toContain("abs/path");
    expect(paths).toContain("b");
    expect(paths).toContain("x");
    expect(warningFor(regdav, layers.traversal!.digest)).toBeUndefined();
    const passwd = await getBytes(image(repositoryOf("traversal")) + "etc/passwd");
    expect(passwd.toString()).toBe("hello\n");
    const b = await getBytes(image(repositoryOf("traversal")) + "b");
    expect(sha256(b)).toBe(sha256(contentOf(entries, "data/text.txt")));
  });

  it("NUL in a name falls back to the pass", async () => {
    const layer = layers.nulName!;
    const listed = await listTree(image(repositoryOf("nulName")));
    // The tar pass over an eStargz blob also lists the TOC's own tar member.
    expect(listed.filter((entry) => entry.path !== "stargz.index.json")).toEqual(await listTree(image("hostile/sample-gzip")));
    expect(listed.map((entry) => entry.path)).toContain("stargz.index.json");
    expect(warningFor(regdav, layer.digest)).toContain("contains a NUL byte");
    const hello = await getBytes(image(repositoryOf("nulName")) + "etc/hello.txt");
    expect(hello.toString()).toBe("hello\n");
  });

  it("zeros chunk with another digest fails its file", async () => {
    const url = image(repositoryOf("zerosLie"));
    await listTree(url);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await davRequest(url + "data/big.bin");
      expect(response.status, `attempt ${attempt}`).toBe(502);
      expect(response.body.toString()).toContain("is marked as zeros");
      expect(response.body.toString()).toContain(layers.zerosLie!.digest);
    }
    const head = await getBytes(url + "data/big.bin", { Range: "bytes=0-65535" });
    expect(head.equals(contentOf(entries, "data/big.bin").subarray(0, 65_536))).toBe(true);
    const other = await getBytes(url + "data/small.bin");
    expect(sha256(other)).toBe(sha256(contentOf(entries, "data/small.bin")));
  });

  it("TOC of millions of objects falls back", async () => {
    const layer = layers.objectBomb!;
    const listed = await listTree(image(repositoryOf("objectBomb")));
    expect(listed).toEqual(await listTree(image("hostile/sample-gzip")));
    expect(warningFor(regdav, layer.digest)).toContain("JSON objects and arrays");
  });

  it("size of 2^53 falls back", async () => {
    const layer = layers.huge!;
    const listed = await listTree(image(repositoryOf("huge")));
    expect(listed).toEqual(await listTree(image("hostile/sample-gzip")));
    expect(warningFor(regdav, layer.digest)).toContain("is 9007199254740992, expected an integer");
  });

  for (const name of ["odd", "oddEstargz"] as const) {
    it(`${name}: odd names match the tar pass`, async () => {
      const url = image(repositoryOf(name));
      const listed = await listTree(url);
      // The eStargz TOC is a tar entry of its own layer, so only that image lists it.
      const withoutToc = listed.filter((entry) => entry.path !== "stargz.index.json");
      expect(withoutToc).toEqual(await listTree(image("hostile/odd-gzip")));
      expect(listed.length - withoutToc.length).toBe(name === "oddEstargz" ? 1 : 0);
      expect(warningFor(regdav, layers[name]!.digest)).toBeUndefined();
      for (const path of ["dup.txt", "node/inside.txt", "later.txt", "big.bin", "hard-missing", "hard-self", "hard-later", "loop-a", "w/kept.txt", "w/.wh..wh..opq/hidden.txt"]) {
        const expected = await davRequest(image("hostile/odd-gzip") + path);
        const actual = await davRequest(url + path);
        expect(actual.status, path).toBe(expected.status);
        expect(sha256(actual.body), path).toBe(sha256(expected.body));
      }
    });
  }

  it("short Range response fails, then reads", async () => {
    const layer = layers.shortRange!;
    const url = image(repositoryOf("shortRange"));
    await listTree(url);
    const rule = proxy.addFault({ path: new RegExp(`/blobs/${layer.digest}$`), times: 1, fault: { kind: "truncate", bytes: 100, mode: "length" } });
    try {
      const response = await davRequest(url + "data/big.bin");
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain("received 100 of");
      expect(rule.hits).toBe(1);
    } finally {
      rule.remove();
    }
    const bytes = await getBytes(url + "data/big.bin");
    expect(sha256(bytes)).toBe(sha256(contentOf(entries, "data/big.bin")));
  });

  it("changed blob fails until it is restored", async () => {
    const layer = layers.changed!;
    const url = image(repositoryOf("changed"));
    await listTree(url);
    const chunk = chunksOf(layer.toc, "data/small.bin")[0]!;
    const hex = layer.digest.slice("sha256:".length);
    const dataFile = join(registry.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    const stored = await readFile(dataFile);
    const changed = Buffer.from(stored);
    const offset = (chunk.offset as number) + 20;
    changed[offset] = changed[offset]! ^ 0x5a;
    await writeFile(dataFile, changed);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await davRequest(url + "data/small.bin");
        expect(response.status, `attempt ${attempt}`).toBe(502);
        expect(response.body.toString()).toContain("data/small.bin");
      }
    } finally {
      await writeFile(dataFile, stored);
    }
    const bytes = await getBytes(url + "data/small.bin");
    expect(sha256(bytes)).toBe(sha256(contentOf(entries, "data/small.bin")));
  });

  it("200 to a Range reads the whole blob", async () => {
    const layer = layers.rangeIgnored!;
    const url = image(repositoryOf("rangeIgnored"));
    await listTree(url);
    const rule = proxy.addFault({ path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: "ignore-range" } });
    try {
      const bytes = await getBytes(url + "data/big.bin");
      expect(sha256(bytes)).toBe(sha256(contentOf(entries, "data/big.bin")));
      expect(rule.hits).toBeGreaterThan(0);
    } finally {
      rule.remove();
    }
    expect(regdav.output()).toContain("registry ignores Range requests");
  });

  it("skopeo's holes pass the zeros check", async () => {
    // skopeo keeps a cache of converted blobs across runs, so the content is new each run.
    const source = sampleEntries();
    source.push({ type: "file", path: "variant.txt", content: `holes ${process.pid} ${Date.now()}\n` });
    source.push({ type: "file", path: "data/zeros.bin", content: Buffer.alloc(3 * 1024 * 1024) });
    await pushGzipImage(registry.host, "hostile/skopeo-source", source);
    await runSkopeo([], "copy", [
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      "--dest-compress",
      "--dest-compress-format",
      "zstd:chunked",
      `docker://${registry.host}/hostile/skopeo-source:v1`,
      `docker://${registry.host}/hostile/skopeo-holes:v1`,
    ]);
    const url = image("hostile/skopeo-holes");
    for (const path of ["data/holes.bin", "data/zeros.bin", "data/big.bin"]) {
      const bytes = await getBytes(url + path);
      expect(sha256(bytes), path).toBe(sha256(contentOf(source, path)));
    }
    const response = await fetch(`${registry.url}/v2/hostile/skopeo-holes/manifests/v1`, { headers: { Accept: mediaTypes.ociManifest } });
    const manifest = (await response.json()) as { layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
    const { digest, size, annotations } = manifest.layers[0]!;

    // The TOC skopeo wrote must have holes with digests, so the check above ran on them.
    const blob = Buffer.from(await (await fetch(`${registry.url}/v2/hostile/skopeo-holes/blobs/${digest}`)).arrayBuffer());
    const request = { digest, size, location: locateToc(annotations)!, limits: defaultLayerLimits };
    const { table } = await readLayerToc(request, async (start, end) => Readable.from([blob.subarray(start, end + 1)]));
    expect(table.chunks.some((chunk) => chunk.zeros === true && chunk.digest !== undefined)).toBe(true);
    expect(regdav.output()).toContain(`layer listed from its table of contents digest=${digest}`);
    expect(warningFor(regdav, digest)).toBeUndefined();
  }, 120_000);

  it("server still serves after the attacks", async () => {
    expect(regdav.output()).not.toMatch(/FATAL|heap out of memory|uncaught/i);
    const hello = await getBytes(image("hostile/sample-gzip") + "etc/hello.txt");
    expect(hello.toString()).toBe("hello\n");
  });
});
