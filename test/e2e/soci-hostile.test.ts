import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { gzip, makeJsonBlob, makeLayerTar, mediaTypes, sha256Digest, type ImageBlob, type TarEntry } from "../harness/image-builder.js";
import { pushManifest } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { buildZtoc, spanDigest, type PlannedFile, type ZtocPlan } from "../harness/ztoc-writer.js";
import { contentOf, noise } from "../layer/toc/toc-fixtures.js";
import { davRequest, getBytes } from "./dav-client.js";
import {
  gzipLayerOf,
  hostileEntries,
  pushByDigest,
  pushIndexOf,
  pushZtoc,
  sharedEntryZtoc,
  twoMemberLayerOf,
  type ZtocDescriptor,
} from "./soci-hostile-images.js";
import { pushReferrersTag, pushSociImage, SOCI_INDEX_DIGEST, type GzipLayer } from "./soci-images.js";
import { listTree, sha256, type ListedEntry } from "./toc-images.js";

/** Uncompressed bytes between zTOC checkpoints: small, so that the test layers have many spans. */
const SPAN_SIZE = 64 * 1024;

interface HostileCase {
  layer: GzipLayer;
  entries: TarEntry[];
  /** The plan of the zTOC as pushed, when the case has one built from its layer. */
  plan?: ZtocPlan;
  /** The zTOC descriptor as the index states it. */
  ztoc?: ZtocDescriptor;
  /** A file and an offset in it where a read starts in the span that the zTOC lies about. */
  target?: { path: string; start: number };
}

function withoutVariant(list: ListedEntry[]): ListedEntry[] {
  return list.filter((entry) => entry.path !== "variant.txt");
}

function regularFiles(entries: readonly TarEntry[]): string[] {
  const whiteout = (path: string) => path.split("/").at(-1)!.startsWith(".wh.");
  return entries.filter((entry) => entry.type === "file" && !whiteout(entry.path)).map((entry) => entry.path);
}

function plannedFile(plan: ZtocPlan, name: string): PlannedFile {
  const file = plan.files.find((candidate) => candidate.name === name);
  if (!file) throw new Error(`no file ${name} in the zTOC plan`);
  return file;
}

/** Returns the index of the span that contains uncompressed offset `offset`. */
function spanHolding(plan: ZtocPlan, offset: number): number {
  let span = 0;
  plan.checkpoints.forEach((checkpoint, i) => {
    if (Number(checkpoint.out) <= offset) span = i;
  });
  return span;
}

/** Returns the span that contains the middle of a file's content. */
function middleSpan(plan: ZtocPlan, path: string): number {
  const file = plannedFile(plan, path);
  return spanHolding(plan, Number(file.contentOffset) + Math.floor(Number(file.size) / 2));
}

/** Recomputes every span digest from the (edited) checkpoints, so that only the checkpoints lie. */
function rehashSpans(layer: Buffer, plan: ZtocPlan): void {
  const checkpoints = plan.checkpoints.map((c) => ({
    compressedOffset: Number(c.in),
    uncompressedOffset: Number(c.out),
    bits: c.bits,
    window: c.window,
  }));
  plan.spanDigests = checkpoints.map((_, i) => spanDigest(layer, checkpoints, i));
}

describe("hostile SOCI indexes and zTOCs", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  const cases: Record<string, HostileCase> = {};
  const repositoryOf = (name: string) => `hostile/${name}`;
  const rootfs = (name: string) => `${regdav.url}${proxy.host}/${repositoryOf(name)}/_tags/v1/rootfs/`;
  const blobGets = (digest: string) =>
    proxy.requests.filter((request) => request.method === "GET" && request.url.includes(`/blobs/${digest}`));
  const outputLines = (...parts: string[]) =>
    regdav.output().split("\n").filter((line) => parts.every((part) => line.includes(part)));
  const unusableWarning = (name: string) => outputLines("SOCI zTOC unusable", cases[name]!.layer.digest)[0];

  async function newCase(name: string, entries = hostileEntries(name)): Promise<HostileCase> {
    const layer = await gzipLayerOf(entries);
    cases[name] = { layer, entries };
    return cases[name]!;
  }

  /** Pushes an image that names a v2 SOCI index of one zTOC, both of which the callbacks may break. */
  async function pushV2Case(
    name: string,
    options: {
      mutate?: (plan: ZtocPlan, layer: Buffer) => void;
      ztocBytes?: (layer: GzipLayer, plan: ZtocPlan) => Buffer;
      descriptor?: (descriptor: ZtocDescriptor) => ZtocDescriptor;
      entries?: TarEntry[];
    } = {},
  ): Promise<HostileCase> {
    const hostileCase = await newCase(name, options.entries);
    const { layer } = hostileCase;
    const written = buildZtoc(layer.bytes, { spanSize: SPAN_SIZE, mutate: (plan) => options.mutate?.(plan, layer.bytes) });
    hostileCase.plan = written.plan;
    const bytes = options.ztocBytes ? options.ztocBytes(layer, written.plan) : written.bytes;
    const pushed = await pushZtoc(registry.host, repositoryOf(name), bytes, layer.digest);
    const descriptor = options.descriptor ? options.descriptor(pushed) : pushed;
    hostileCase.ztoc = descriptor;
    const index = await pushIndexOf(registry.host, repositoryOf(name), { version: "v2", ztocs: [descriptor] });
    await pushSociImage(registry.host, repositoryOf(name), "v1", layer, { [SOCI_INDEX_DIGEST]: index.digest });
    return hostileCase;
  }

  /** Pushes an image whose manifest names `indexDigest` as its SOCI index. */
  async function pushNamedIndexCase(name: string, indexDigest: (repository: string) => Promise<string>): Promise<void> {
    const { layer } = await newCase(name);
    const value = await indexDigest(repositoryOf(name));
    await pushSociImage(registry.host, repositoryOf(name), "v1", layer, { [SOCI_INDEX_DIGEST]: value });
  }

  /** Pushes the plain sample image into `repository` under the tag "other" and returns its manifest. */
  async function pushOtherImage(repository: string): Promise<ImageBlob> {
    return pushSociImage(registry.host, repository, "other", cases.plain!.layer);
  }

  /** Reads a file and requires its right bytes, or a 502 that names the layer. */
  async function expectRightBytesOr502(name: string, path: string, headers: Record<string, string> = {}) {
    const { layer, entries } = cases[name]!;
    const response = await davRequest(rootfs(name) + path, "GET", headers);
    let expected = contentOf(entries, path);
    const range = /^bytes=(\d+)-(\d+)$/.exec(headers.Range ?? "");
    if (range) expected = expected.subarray(Number(range[1]), Number(range[2]) + 1);
    if (response.status === 200 || response.status === 206) {
      expect(sha256(response.body), `${path}: served with status ${response.status} but wrong bytes`).toBe(sha256(expected));
    } else {
      expect(response.status, `${path}: ${response.body.toString()}`).toBe(502);
      expect(response.body.toString(), path).toContain(layer.digest);
    }
    return response.status;
  }

  /** Requires the listing of the full pass, as the plain image shows it, and the right bytes of every file. */
  async function expectPassListing(name: string) {
    const listed = await listTree(rootfs(name));
    expect(withoutVariant(listed)).toEqual(withoutVariant(await listTree(rootfs("plain"))));
    expect(listed.find((entry) => entry.path === "variant.txt")?.size).toBe(`${name}\n`.length);
    expect(blobGets(cases[name]!.layer.digest).some((request) => request.range === undefined)).toBe(true);
    for (const path of ["variant.txt", "bulk/text.txt", "data/big.bin"]) {
      const bytes = await getBytes(rootfs(name) + path);
      expect(sha256(bytes), path).toBe(sha256(contentOf(cases[name]!.entries, path)));
    }
  }

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    const host = registry.host;

    // The reference: no SOCI index, so the full pass lists it.
    await newCase("plain");
    await pushSociImage(host, repositoryOf("plain"), "v1", cases.plain!.layer);
    for (const name of ["good", "range-ignored", "corrupt-ztoc", "concurrent"]) await pushV2Case(name);

    // How the SOCI index is found.
    await pushNamedIndexCase("missing-index", async () => sha256Digest("no such manifest"));
    await pushNamedIndexCase("bad-annotation", async () => "sha256:not-hex/../../x");
    await pushNamedIndexCase("index-is-index", async (repository) => {
      const other = await pushOtherImage(repository);
      const index = makeJsonBlob(mediaTypes.ociIndex, {
        schemaVersion: 2,
        mediaType: mediaTypes.ociIndex,
        manifests: [{ mediaType: other.mediaType, digest: other.digest, size: other.size }],
      });
      await pushByDigest(host, repository, index);
      return index.digest;
    });
    await pushNamedIndexCase("index-is-image", async (repository) => (await pushOtherImage(repository)).digest);
    {
      const { layer } = await newCase("other-subject");
      const image = await pushSociImage(host, repositoryOf("other-subject"), "v1", layer);
      const other = await pushOtherImage(repositoryOf("other-subject"));
      const ztoc = await pushZtoc(host, repositoryOf("other-subject"), buildZtoc(layer.bytes, { spanSize: SPAN_SIZE }).bytes, layer.digest);
      const index = await pushIndexOf(host, repositoryOf("other-subject"), { version: "v1", subject: other, ztocs: [ztoc] });
      await pushReferrersTag(host, repositoryOf("other-subject"), image, [index]);
    }
    {
      const { layer } = await newCase("tag-not-index");
      const image = await pushSociImage(host, repositoryOf("tag-not-index"), "v1", layer);
      const ztoc = await pushZtoc(host, repositoryOf("tag-not-index"), buildZtoc(layer.bytes, { spanSize: SPAN_SIZE }).bytes, layer.digest);
      const index = await pushIndexOf(host, repositoryOf("tag-not-index"), { version: "v1", subject: image, ztocs: [ztoc] });
      // The referrers tag names the SOCI index manifest itself instead of an image index of referrers.
      await pushManifest(host, repositoryOf("tag-not-index"), image.digest.replace(":", "-"), index.bytes, index.mediaType);
    }
    {
      const { layer } = await newCase("two-indexes");
      const repository = repositoryOf("two-indexes");
      const image = await pushSociImage(host, repository, "v1", layer);
      const garbage = await pushZtoc(host, repository, noise(40_000, 11), layer.digest);
      const good = await pushZtoc(host, repository, buildZtoc(layer.bytes, { spanSize: SPAN_SIZE }).bytes, layer.digest);
      const first = await pushIndexOf(host, repository, { version: "v1", subject: image, ztocs: [garbage] });
      const second = await pushIndexOf(host, repository, { version: "v1", subject: image, ztocs: [good] });
      await pushReferrersTag(host, repository, image, [first, second]);
    }

    // zTOC descriptors that lie.
    await pushV2Case("huge-size", { descriptor: (d) => ({ ...d, size: 2 ** 40 }) });
    await pushV2Case("short-size", { descriptor: (d) => ({ ...d, size: d.size - 1 }) });
    await pushV2Case("negative-size", { descriptor: (d) => ({ ...d, size: -5 }) });
    await pushV2Case("missing-ztoc");
    await pushV2Case("other-blob", { descriptor: (d) => ({ ...d, digest: sha256Digest("{}") }) });

    // zTOC bytes that are broken or do not fit the layer.
    await pushV2Case("garbage", { ztocBytes: () => noise(50_000, 12) });
    await pushV2Case("truncated", { ztocBytes: (layer) => buildZtoc(layer.bytes, { spanSize: SPAN_SIZE }).bytes.subarray(0, 30_000) });
    await pushV2Case("past-tar", { mutate: (plan) => (plannedFile(plan, "data/small.bin").contentOffset = Number(plan.uncompressedSize) + 512) });
    await pushV2Case("overlap", {
      mutate: (plan) => (plannedFile(plan, "data/small.bin").contentOffset = plannedFile(plan, "data/big.bin").contentOffset),
    });
    await pushV2Case("no-checkpoints", {
      mutate: (plan) => {
        plan.checkpoints = [];
        plan.spanDigests = [];
        plan.maxSpanId = -1;
      },
    });
    await pushV2Case("digest-count", { mutate: (plan) => void plan.spanDigests.pop() });
    await pushV2Case("wrong-span-digest", {
      mutate: (plan) => {
        const span = spanHolding(plan, Number(plannedFile(plan, "data/text.txt").contentOffset));
        plan.spanDigests[span] = sha256Digest("another span");
      },
    });
    {
      // The zTOC of another layer, with its compressed size changed to this layer's.
      const decoy = await gzipLayerOf(hostileEntries("decoy layer"));
      await pushV2Case("other-layer", {
        ztocBytes: (layer) =>
          buildZtoc(decoy.bytes, { spanSize: SPAN_SIZE, mutate: (plan) => (plan.compressedSize = layer.size) }).bytes,
      });
    }
    {
      // The tar itself has these names, as soci writes a zTOC of such a layer, so the tar headers match the zTOC.
      const renames: Record<string, string> = {
        "etc/hello.txt": "../../etc/passwd",
        "data/small.bin": "/abs/small.bin",
        "data/text.txt": "data/../../../text.txt",
      };
      const entries = hostileEntries("names").map((entry) => ({ ...entry, path: renames[entry.path] ?? entry.path }));
      await pushV2Case("names", { entries });
    }
    await pushV2Case("nul-name", { mutate: (plan) => (plannedFile(plan, "etc/hello.txt").name = "etc/hel\u0000lo.txt") });
    await pushV2Case("long-name", { mutate: (plan) => (plannedFile(plan, "etc/hello.txt").name = "d/".repeat(2_500) + "hello.txt") });
    await pushV2Case("bad-prefetch", {
      ztocBytes: (layer) => buildZtoc(layer.bytes, { spanSize: SPAN_SIZE, prefetch: "[{\"path\": \"/etc\"" }).bytes,
    });
    await pushV2Case("too-many-entries", { ztocBytes: (_layer, plan) => sharedEntryZtoc(plan, 2_000_001) });
    await pushV2Case("shared-entries", { ztocBytes: (_layer, plan) => sharedEntryZtoc(plan, 1_500_000) });

    // Checkpoints and file records that lie while every span digest stays right.
    const lies: Record<string, { path: string; mutate: (plan: ZtocPlan, layer: Buffer, span: number) => void }> = {
      "out-shift": { path: "bulk/file-1.bin", mutate: (plan, _layer, span) => (plan.checkpoints[span]!.out = Number(plan.checkpoints[span]!.out) + 512) },
      "windows-zeroed": {
        path: "bulk/words.txt",
        mutate: (plan) => {
          for (const checkpoint of plan.checkpoints.slice(1)) checkpoint.window = Buffer.alloc(checkpoint.window.length);
        },
      },
      "in-shift": {
        path: "bulk/words.txt",
        mutate: (plan, layer, span) => {
          plan.checkpoints[span]!.in = Number(plan.checkpoints[span]!.in) + 1;
          rehashSpans(layer, plan);
        },
      },
      "bits-lie": {
        path: "bulk/words.txt",
        mutate: (plan, layer, span) => {
          plan.checkpoints[span]!.bits = (plan.checkpoints[span]!.bits + 3) % 8;
          rehashSpans(layer, plan);
        },
      },
      "swapped-offsets": {
        path: "bulk/file-0.bin",
        mutate: (plan) => {
          const first = plannedFile(plan, "bulk/file-0.bin");
          const second = plannedFile(plan, "bulk/file-1.bin");
          [first.contentOffset, second.contentOffset] = [second.contentOffset, first.contentOffset];
        },
      },
      "out-shift-by-file": {
        path: "bulk/file-2.bin",
        mutate: (plan, layer) => {
          // Moves one checkpoint's out forward by the distance between two files of the same size and drops
          // the checkpoints after it, so file-2.bin's header and content are read from file-1.bin's.
          const distance = Number(plannedFile(plan, "bulk/file-2.bin").contentOffset) - Number(plannedFile(plan, "bulk/file-1.bin").contentOffset);
          const header = Number(plannedFile(plan, "bulk/file-2.bin").contentOffset) - 512;
          const span = spanHolding(plan, header - distance);
          plan.checkpoints[span]!.out = Number(plan.checkpoints[span]!.out) + distance;
          plan.checkpoints.splice(span + 1);
          plan.maxSpanId = span;
          rehashSpans(layer, plan);
        },
      },
      "size-lie": { path: "data/small.bin", mutate: (plan) => (plannedFile(plan, "data/small.bin").size = 5_512) },
    };
    for (const [name, lie] of Object.entries(lies)) {
      let start = 0;
      await pushV2Case(name, {
        mutate: (plan, layer) => {
          const span = middleSpan(plan, lie.path);
          if (span === 0) throw new Error(`${lie.path} starts in span 0 of the test layer`);
          start = Math.max(0, Number(plan.checkpoints[span]!.out) + 100 - Number(plannedFile(plan, lie.path).contentOffset));
          lie.mutate(plan, layer, span);
        },
      });
      cases[name]!.target = { path: lie.path, start };
    }

    // One layer in two repositories: the image in the first names a SOCI index whose zTOC renames a file,
    // and the image in the second has no index.
    {
      const { layer } = await newCase("poison");
      const renamed = buildZtoc(layer.bytes, {
        spanSize: SPAN_SIZE,
        mutate: (plan) => (plannedFile(plan, "etc/hello.txt").name = "etc/renamed-by-index.txt"),
      });
      const ztoc = await pushZtoc(host, repositoryOf("poison-a"), renamed.bytes, layer.digest);
      const index = await pushIndexOf(host, repositoryOf("poison-a"), { version: "v2", ztocs: [ztoc] });
      await pushSociImage(host, repositoryOf("poison-a"), "v1", layer, { [SOCI_INDEX_DIGEST]: index.digest });
      await pushSociImage(host, repositoryOf("poison-b"), "v1", layer);
    }

    // Two gzip members, read through one checkpoint at the start of the first.
    {
      const entries = hostileEntries("two-members");
      const split = contentOffsetInTar(await makeLayerTar(entries), "bulk/file-2.bin");
      const layer = await twoMemberLayerOf(entries, split);
      cases["two-members"] = { layer, entries };
      const whole = buildZtoc((await gzipLayerOf(entries)).bytes, {
        spanSize: 64 * 1024 * 1024,
        mutate: (plan) => {
          plan.compressedSize = layer.size;
          plan.spanDigests = [sha256Digest(layer.bytes.subarray(Number(plan.checkpoints[0]!.in)))];
        },
      });
      const ztoc = await pushZtoc(host, repositoryOf("two-members"), whole.bytes, layer.digest);
      const index = await pushIndexOf(host, repositoryOf("two-members"), { version: "v2", ztocs: [ztoc] });
      await pushSociImage(host, repositoryOf("two-members"), "v1", layer, { [SOCI_INDEX_DIGEST]: index.digest });
    }

    regdav = await startRegdav(["--registry", proxy.host, "--log-level", "info"]);
  }, 300_000);

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  it("good zTOC lists without layer bytes", async () => {
    const listed = await listTree(rootfs("good"));
    expect(withoutVariant(listed)).toEqual(withoutVariant(await listTree(rootfs("plain"))));
    expect(blobGets(cases.good!.layer.digest)).toHaveLength(0);
    for (const path of regularFiles(cases.good!.entries)) await expectRightBytesOr502("good", path);
    expect(blobGets(cases.good!.layer.digest).every((request) => request.range !== undefined)).toBe(true);
  });

  describe("index lookup", () => {
    it("missing v2 index falls back", async () => {
      await expectPassListing("missing-index");
      const warning = outputLines("SOCI index lookup failed", repositoryOf("missing-index"))[0];
      expect(warning).toBeDefined();
      expect(warning).toContain(sha256Digest("no such manifest"));
    });

    it("invalid v2 digest falls back", async () => {
      await expectPassListing("bad-annotation");
      const warning = outputLines("invalid SOCI index digest")[0];
      expect(warning).toContain("sha256:not-hex/../../x");
    });

    it("v2 digest of an image index falls back", async () => {
      await expectPassListing("index-is-index");
      expect(outputLines("SOCI index is not an image manifest", repositoryOf("index-is-index"))[0]).toBeDefined();
    });

    it("v2 digest of an image falls back", async () => {
      await expectPassListing("index-is-image");
    });

    it("v1 index of another subject falls back", async () => {
      await expectPassListing("other-subject");
      expect(outputLines("another image as its subject", repositoryOf("other-subject"))[0]).toBeDefined();
    });

    it("referrers tag not an index falls back", async () => {
      await expectPassListing("tag-not-index");
      expect(outputLines("referrers tag is not an image index", repositoryOf("tag-not-index"))[0]).toBeDefined();
    });

    it("two v1 indexes: broken first falls back", async () => {
      await expectPassListing("two-indexes");
      expect(unusableWarning("two-indexes")).toBeDefined();
    });
  });

  describe("zTOC descriptor", () => {
    it("huge size falls back", async () => {
      await expectPassListing("huge-size");
      expect(unusableWarning("huge-size")).toContain("has size 1099511627776");
    });

    for (const name of ["short-size", "negative-size", "other-blob"]) {
      it(`${name} falls back`, async () => {
        await expectPassListing(name);
        const warning = unusableWarning(name) ?? outputLines("SOCI index lookup failed", repositoryOf(name))[0];
        expect(warning, regdav.output().slice(-3000)).toBeDefined();
      });
    }

    it("zTOC blob not found falls back", async () => {
      // The registry checks that every blob a manifest names exists, so the proxy hides the zTOC instead.
      const body = JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry" }] });
      const path = new RegExp(`/blobs/${cases["missing-ztoc"]!.ztoc!.digest}$`);
      const rule = proxy.addFault({ path, fault: { kind: "status", status: 404, body, headers: { "content-type": "application/json" } } });
      try {
        await expectPassListing("missing-ztoc");
        expect(rule.hits).toBeGreaterThan(0);
      } finally {
        rule.remove();
      }
      expect(unusableWarning("missing-ztoc")).toContain(cases["missing-ztoc"]!.ztoc!.digest);
    });
  });

  describe("broken zTOC bytes", () => {
    const reasons: Record<string, string> = {
      garbage: "invalid zTOC",
      truncated: "invalid zTOC",
      "past-tar": "past the",
      overlap: "overlaps",
      "no-checkpoints": "checkpoints",
      "digest-count": "span digests",
      "long-name": "longer than 4096 bytes",
      "bad-prefetch": "prefetch list",
      "too-many-entries": "more than the limit of 2000000",
      "shared-entries": "invalid zTOC",
    };
    for (const [name, reason] of Object.entries(reasons)) {
      it(`${name} falls back`, async () => {
        await expectPassListing(name);
        expect(unusableWarning(name), regdav.output().slice(-2000)).toContain(reason);
      });
    }

    it("NUL in a name falls back", async () => {
      await expectPassListing("nul-name");
      expect(unusableWarning("nul-name")).toBeDefined();
    });

    it("dot-dot and absolute names stay inside", async () => {
      const listed = await listTree(rootfs("names"));
      const paths = listed.map((entry) => entry.path);
      expect(paths).toContain("etc/passwd");
      expect(paths).toContain("abs/small.bin");
      expect(paths).toContain("text.txt");
      expect(unusableWarning("names")).toBeUndefined();
      expect(outputLines("layer listed from its SOCI zTOC", cases.names!.layer.digest)).toHaveLength(1);
      expect((await getBytes(rootfs("names") + "etc/passwd")).toString()).toBe("hello\n");
      expect(sha256(await getBytes(rootfs("names") + "abs/small.bin"))).toBe(sha256(contentOf(cases.names!.entries, "/abs/small.bin")));
      const text = contentOf(cases.names!.entries, "data/../../../text.txt");
      expect(sha256(await getBytes(rootfs("names") + "text.txt"))).toBe(sha256(text));
    });

    it("wrong span digest fails its span only", async () => {
      await listTree(rootfs("wrong-span-digest"));
      const response = await davRequest(rootfs("wrong-span-digest") + "data/text.txt");
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain(cases["wrong-span-digest"]!.layer.digest);
      expect(response.body.toString()).toContain("does not match its zTOC digest");
      for (const path of ["etc/hello.txt", "data/big.bin", "variant.txt"]) {
        expect(await expectRightBytesOr502("wrong-span-digest", path), path).toBe(200);
      }
    });

    it("zTOC of another layer never serves its bytes", async () => {
      await listTree(rootfs("other-layer"));
      for (const path of regularFiles(cases["other-layer"]!.entries)) {
        if (path === "variant.txt") continue;
        await expectRightBytesOr502("other-layer", path);
      }
    });
  });

  describe("lying checkpoints and files", () => {
    for (const name of ["out-shift", "out-shift-by-file", "windows-zeroed", "in-shift", "bits-lie", "swapped-offsets", "size-lie"]) {
      it(`${name}: right bytes or 502`, async () => {
        const { target, entries } = cases[name]!;
        const listed = await listTree(rootfs(name));
        expect(listed.map((entry) => entry.path)).toContain(target!.path);
        if (name === "windows-zeroed") {
          // A window is covered by no digest, so only a read that decodes its way past it can tell that it
          // lies. After that, no read of the layer trusts the zTOC. A read that starts at such a window
          // first is served wrong: README "SOCI indexes" states this.
          const across = { Range: `bytes=${Math.max(0, target!.start - 200_000)}-${target!.start + 9_999}` };
          const response = await davRequest(rootfs(name) + target!.path, "GET", across);
          expect(response.status).toBe(502);
          expect(response.body.toString()).toContain("is not the data before uncompressed offset");
        }
        // The first read starts in the span that lies, before any neighbouring read has decoded it.
        await expectRightBytesOr502(name, target!.path, { Range: `bytes=${target!.start}-${target!.start + 9_999}` });
        for (const path of regularFiles(entries)) {
          const status = await expectRightBytesOr502(name, path);
          if (status === 200) expect(listed.find((entry) => entry.path === path)?.size, `${path}: listed size`).toBe(contentOf(entries, path).length);
        }
      });
    }
  });

  it("index of one image leaves another's layer alone", async () => {
    const { layer } = cases.poison!;
    const first = await listTree(rootfs("poison-a"));
    expect(first.map((entry) => entry.path)).toContain("etc/renamed-by-index.txt");
    expect(outputLines("layer listed from its SOCI zTOC", layer.digest)).toHaveLength(1);

    // poison-b has no SOCI index, so its layer must be listed as its tar is, as the pass lists it,
    // even though the zTOC of poison-a's index is in the cache under the same layer digest.
    const second = await listTree(rootfs("poison-b"));
    const paths = second.map((entry) => entry.path);
    expect(paths).toContain("etc/hello.txt");
    expect(paths).not.toContain("etc/renamed-by-index.txt");
    expect(withoutVariant(second)).toEqual(withoutVariant(await listTree(rootfs("plain"))));
  });

  describe("registry faults", () => {
    it("registry ignoring Range reads right", async () => {
      const { layer, entries } = cases["range-ignored"]!;
      await listTree(rootfs("range-ignored"));
      const rule = proxy.addFault({ path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: "ignore-range" } });
      try {
        for (const path of ["bulk/text.txt", "data/big.bin", "etc/hello.txt"]) {
          const bytes = await getBytes(rootfs("range-ignored") + path);
          expect(sha256(bytes), path).toBe(sha256(contentOf(entries, path)));
        }
        const part = await getBytes(rootfs("range-ignored") + "bulk/text.txt", { Range: "bytes=100000-100099" });
        expect(part.equals(contentOf(entries, "bulk/text.txt").subarray(100_000, 100_100))).toBe(true);
        expect(rule.hits).toBeGreaterThan(0);
      } finally {
        rule.remove();
      }
      expect(outputLines("registry ignores Range requests", layer.digest)[0]).toBeDefined();
      // The layer is then cached whole: later reads send the registry nothing.
      const before = blobGets(layer.digest).length;
      expect(sha256(await getBytes(rootfs("range-ignored") + "bulk/file-3.bin"))).toBe(sha256(contentOf(entries, "bulk/file-3.bin")));
      expect(blobGets(layer.digest).length).toBe(before);
    });

    it("corrupt zTOC download falls back", async () => {
      const ztocPath = new RegExp(`/blobs/${cases["corrupt-ztoc"]!.ztoc!.digest}$`);
      const rule = proxy.addFault({ path: ztocPath, times: 1, fault: { kind: "corrupt", offset: 1000 } });
      try {
        await expectPassListing("corrupt-ztoc");
        expect(rule.hits).toBe(1);
      } finally {
        rule.remove();
      }
      expect(unusableWarning("corrupt-ztoc")).toBeDefined();
    });

    it("second gzip member: 502, never wrong bytes", async () => {
      await listTree(rootfs("two-members"));
      const statuses: Record<string, number> = {};
      for (const path of regularFiles(cases["two-members"]!.entries)) {
        statuses[path] = await expectRightBytesOr502("two-members", path);
      }
      // The zTOC has one checkpoint, so every read inflates from the first member into the second.
      expect(statuses["bulk/text.txt"]).toBe(502);
      const response = await davRequest(rootfs("two-members") + "bulk/text.txt");
      expect(response.body.toString()).toContain("the deflate data ends at uncompressed offset");
    });

    it("concurrent readers get right bytes", async () => {
      const { entries } = cases.concurrent!;
      await listTree(rootfs("concurrent"));
      const paths = regularFiles(entries);
      const reads = [...paths, ...paths].map(async (path) => {
        const bytes = await getBytes(rootfs("concurrent") + path);
        return { path, right: sha256(bytes) === sha256(contentOf(entries, path)) };
      });
      const ranges = [0, 70_000, 200_000, 350_000].map(async (start) => {
        const part = await getBytes(rootfs("concurrent") + "bulk/text.txt", { Range: `bytes=${start}-${start + 9_999}` });
        return { path: `bulk/text.txt@${start}`, right: part.equals(contentOf(entries, "bulk/text.txt").subarray(start, start + 10_000)) };
      });
      const results = await Promise.all([...reads, ...ranges]);
      expect(results.filter((result) => !result.right).map((result) => result.path)).toEqual([]);
    });
  });

  it("server keeps serving afterwards", async () => {
    const bytes = await getBytes(rootfs("plain") + "bulk/text.txt");
    expect(sha256(bytes)).toBe(sha256(contentOf(cases.plain!.entries, "bulk/text.txt")));
    expect(regdav.output()).not.toContain("INTERNAL");
    expect(regdav.output()).not.toMatch(/uncaught|unhandled/i);
    const exited = await Promise.race([regdav.exited.then(() => true), Promise.resolve(false)]);
    expect(exited).toBe(false);
  });
});

/** Returns the content offset of `path` in a tar, read with the zTOC writer's own tar reader. */
function contentOffsetInTar(tar: Buffer, path: string): number {
  return Number(plannedFile(buildZtoc(gzip(tar), { spanSize: 64 * 1024 * 1024 }).plan, path).contentOffset);
}
