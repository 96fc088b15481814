import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

import * as tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import {
  makeImageConfig,
  makeLayer,
  makeLayerTar,
  mediaTypes,
  sha256Digest,
  unzstd,
  zstd,
  type LayerBlob,
  type TarEntry,
} from "./image-builder.js";
import { walkTree, unpackWithUmoci, type TreeEntry } from "./oracle.js";
import {
  pushImage,
  pushIndex,
  pushManifest,
  pushRegclientFixtures,
  pushSchema1Image,
  readLayoutIndex,
  readLayoutTags,
  regclientLayoutDir,
  regclientRepository,
} from "./push.js";
import { isMountPoint, mountWithRclone, serveFolderWithRclone } from "./rclone-mount.js";
import { startRegdav } from "./regdav-process.js";
import { startRegistry, type TestRegistry } from "./registry.js";
import { fetchBlob, fetchManifest, fetchTags, registryRequest } from "./registry-http.js";
import { extractSchema1Payload } from "./schema1.js";
import { freePort, makeTempDir, requireTool, runCommand, withTempDir } from "./tools.js";

interface ParsedEntry {
  header: tar.Header;
  content: Buffer;
}

async function parseTar(bytes: Buffer): Promise<ParsedEntry[]> {
  const extract = tar.extract();
  const entries: ParsedEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.push({ header: entry.header, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  await done;
  return entries;
}

const longName = `deep/${"a".repeat(120)}.txt`;

/** A layer with every entry type the oracle can reproduce, plus names ustar cannot hold. */
const baseEntries: TarEntry[] = [
  { type: "directory", path: "etc" },
  { type: "file", path: "etc/hostname", content: "regdav\n" },
  { type: "file", path: "etc/secret", content: "s3cret", mode: 0o600 },
  { type: "file", path: "etc/no-access", content: "x", mode: 0o000 },
  { type: "directory", path: "bin" },
  { type: "file", path: "bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o4755 },
  { type: "symlink", path: "bin/sh", target: "tool" },
  { type: "hardlink", path: "bin/tool-link", target: "bin/tool" },
  { type: "directory", path: "deep" },
  { type: "file", path: longName, content: "long name\n" },
  { type: "directory", path: "unicode" },
  { type: "file", path: "unicode/naïve café ✓.txt", content: "unicode\n" },
  { type: "file", path: "remove-me.txt", content: "deleted by the next layer\n" },
  { type: "directory", path: "opaque" },
  { type: "file", path: "opaque/old.txt", content: "hidden by an opaque whiteout\n" },
  { type: "file", path: "empty" },
  { type: "file", path: "xattr", content: "x", pax: { "SCHILY.xattr.user.test": "value" } },
];

/** A second layer that deletes, hides and replaces files of the first. */
const upperEntries: TarEntry[] = [
  { type: "file", path: ".wh.remove-me.txt" },
  { type: "directory", path: "opaque" },
  { type: "file", path: "opaque/.wh..wh..opq" },
  { type: "file", path: "opaque/new.txt", content: "after the opaque whiteout\n" },
  { type: "file", path: "etc/hostname", content: "changed\n" },
  { type: "file", path: "bin/new", content: "new\n", mode: 0o755 },
];

describe("tools", () => {
  test("requireTool names the missing package", async () => {
    await expect(requireTool("umoci")).resolves.toMatch(/\/umoci$/);
    await expect(requireTool("regdav-no-such-tool")).rejects.toThrow(
      /"regdav-no-such-tool" was not found/,
    );
    await expect(requireTool("regdav-no-such-tool")).rejects.toThrow(
      /apt-get install -y regdav-no-such-tool/,
    );
  });

  test("freePort returns a bindable port", async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
    expect(port).toBeGreaterThan(0);
  });

  test("temp dirs are removed", async () => {
    const dir = await makeTempDir("selftest");
    await writeFile(join(dir.path, "file"), "x");
    await dir.remove();
    await expect(stat(dir.path)).rejects.toThrow(/ENOENT/);

    let inside = "";
    await expect(
      withTempDir("selftest", async (path) => {
        inside = path;
        throw new Error("body failed");
      }),
    ).rejects.toThrow("body failed");
    await expect(stat(inside)).rejects.toThrow(/ENOENT/);
  });

  test("runCommand reports stderr on failure", async () => {
    const ok = await runCommand("sh", ["-c", "cat"], { input: "piped" });
    expect(ok.stdout.toString()).toBe("piped");
    await expect(runCommand("sh", ["-c", "echo broken >&2; exit 3"])).rejects.toThrow(
      /exit code 3[^]*broken/,
    );
  });
});

describe("image builder", () => {
  test("layer tar keeps every entry", async () => {
    const parsed = await parseTar(await makeLayerTar(baseEntries));
    expect(parsed.map((entry) => entry.header.name)).toEqual(
      baseEntries.map((entry) => (entry.type === "directory" ? `${entry.path}/` : entry.path)),
    );

    const byName = new Map(parsed.map((entry) => [entry.header.name, entry]));
    expect(byName.get("etc/hostname")?.content.toString()).toBe("regdav\n");
    expect(byName.get("etc/secret")?.header.mode).toBe(0o600);
    expect(byName.get("etc/no-access")?.header.mode).toBe(0o000);
    expect(byName.get("bin/tool")?.header.mode).toBe(0o4755);
    expect(byName.get("bin/sh")?.header.type).toBe("symlink");
    expect(byName.get("bin/sh")?.header.linkname).toBe("tool");
    expect(byName.get("bin/tool-link")?.header.type).toBe("link");
    expect(byName.get("bin/tool-link")?.header.linkname).toBe("bin/tool");
    expect(byName.get(longName)?.content.toString()).toBe("long name\n");
    expect(byName.get("unicode/naïve café ✓.txt")?.content.toString()).toBe("unicode\n");
    expect(byName.get("etc/")?.header.type).toBe("directory");
    expect(byName.get("empty")?.header.mtime.toISOString()).toBe("2024-01-01T00:00:00.000Z");
    expect(byName.get("xattr")?.header.pax).toEqual({
      path: "xattr",
      "SCHILY.xattr.user.test": "value",
    });
  });

  test("layer tar is reproducible", async () => {
    const first = await makeLayerTar(baseEntries);
    const second = await makeLayerTar(baseEntries);
    expect(first.equals(second)).toBe(true);
  });

  test("compressed layers decompress to the tar", async () => {
    const gzipLayer = await makeLayer(baseEntries, { compression: "gzip" });
    const zstdLayer = await makeLayer(baseEntries, { compression: "zstd" });
    const plainLayer = await makeLayer(baseEntries, { compression: "none" });

    expect(gunzipSync(gzipLayer.bytes).equals(gzipLayer.uncompressed)).toBe(true);
    expect((await unzstd(zstdLayer.bytes)).equals(zstdLayer.uncompressed)).toBe(true);
    expect(plainLayer.bytes.equals(plainLayer.uncompressed)).toBe(true);
    expect(gzipLayer.diffId).toBe(sha256Digest(gzipLayer.uncompressed));
    expect(zstdLayer.diffId).toBe(gzipLayer.diffId);
    expect(gzipLayer.digest).toBe(sha256Digest(gzipLayer.bytes));
    expect(gzipLayer.mediaType).toBe(mediaTypes.ociLayerGzip);
    expect(zstdLayer.mediaType).toBe(mediaTypes.ociLayerZstd);
    expect(plainLayer.mediaType).toBe(mediaTypes.ociLayer);
    expect((await zstd(Buffer.from("abc"))).subarray(0, 4).toString("hex")).toBe("28b52ffd");
  });

  test("image config lists diff_ids", async () => {
    const lower = await makeLayer(baseEntries);
    const upper = await makeLayer(upperEntries, { compression: "zstd" });
    const config = makeImageConfig({
      layers: [lower, upper],
      platform: { os: "linux", architecture: "arm64" },
    });
    const document = JSON.parse(config.bytes.toString()) as {
      architecture: string;
      rootfs: { type: string; diff_ids: string[] };
      history: unknown[];
    };

    expect(document.rootfs.type).toBe("layers");
    expect(document.rootfs.diff_ids).toEqual([lower.diffId, upper.diffId]);
    expect(document.history).toHaveLength(2);
    expect(document.architecture).toBe("arm64");
    expect(config.mediaType).toBe(mediaTypes.ociConfig);
    expect(() => makeImageConfig({ layers: [lower], history: [] })).toThrow(/1 layers/);
  });
});

describe("registry and push", () => {
  let registry: TestRegistry;
  let lower: LayerBlob;
  let upper: LayerBlob;

  beforeAll(async () => {
    registry = await startRegistry({ schema1: true });
    lower = await makeLayer(baseEntries);
    upper = await makeLayer(upperEntries, { compression: "zstd" });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  test("registry answers /v2/", async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const response = await registryRequest(registry.host, "/v2/");
    expect(response.status).toBe(200);
    expect((await stat(registry.dataDir)).isDirectory()).toBe(true);
  });

  test("OCI image reads back", async () => {
    const config = makeImageConfig({ layers: [lower, upper] });
    const pushed = await pushImage(registry.host, "test/oci", "v1", {
      layers: [lower, upper],
      config,
      format: "oci",
    });

    const fetched = await fetchManifest(registry.host, "test/oci", "v1");
    expect(fetched.digest).toBe(pushed.digest);
    expect(fetched.bytes.equals(pushed.manifest.bytes)).toBe(true);
    expect(fetched.contentType).toBe(mediaTypes.ociManifest);
    expect(sha256Digest(fetched.bytes)).toBe(pushed.digest);
    for (const blob of [lower, upper, config]) {
      expect((await fetchBlob(registry.host, "test/oci", blob.digest)).equals(blob.bytes)).toBe(
        true,
      );
    }
    expect(await fetchTags(registry.host, "test/oci")).toEqual(["v1"]);
  });

  test("Docker image reads back", async () => {
    const layer = await makeLayer(baseEntries, { format: "docker" });
    const config = makeImageConfig({ layers: [layer], format: "docker" });
    const pushed = await pushImage(registry.host, "test/docker", "v1", {
      layers: [layer],
      config,
      format: "docker",
    });

    const fetched = await fetchManifest(registry.host, "test/docker", "v1");
    expect(fetched.digest).toBe(pushed.digest);
    expect(fetched.bytes.equals(pushed.manifest.bytes)).toBe(true);
    expect(fetched.contentType).toBe(mediaTypes.dockerManifest);
    expect(layer.mediaType).toBe(mediaTypes.dockerLayerGzip);
    expect(config.mediaType).toBe(mediaTypes.dockerConfig);
  });

  test.each(["oci", "docker"] as const)("%s index reads back", async (format) => {
    const images = [];
    for (const architecture of ["amd64", "arm64"]) {
      const layer = await makeLayer([{ type: "file", path: "arch", content: architecture }], {
        format,
      });
      const platform = { os: "linux", architecture };
      images.push({
        platform,
        layers: [layer],
        config: makeImageConfig({ layers: [layer], platform, format }),
      });
    }
    const pushed = await pushIndex(registry.host, `test/index-${format}`, "multi", {
      images,
      format,
    });

    const fetched = await fetchManifest(registry.host, `test/index-${format}`, "multi");
    expect(fetched.digest).toBe(pushed.digest);
    expect(fetched.bytes.equals(pushed.index.bytes)).toBe(true);
    const expectedType = format === "oci" ? mediaTypes.ociIndex : mediaTypes.dockerManifestList;
    expect(fetched.contentType).toBe(expectedType);

    const document = JSON.parse(fetched.bytes.toString()) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    expect(document.manifests.map((entry) => entry.platform.architecture)).toEqual([
      "amd64",
      "arm64",
    ]);
    for (const [i, entry] of document.manifests.entries()) {
      const child = await fetchManifest(registry.host, `test/index-${format}`, entry.digest);
      expect(child.bytes.equals(pushed.images[i]!.manifest.bytes)).toBe(true);
    }
  });

  test("schema1 image is accepted and served", async () => {
    const pushed = await pushSchema1Image(registry.host, "test/schema1", "old", [lower]);
    const fetched = await fetchManifest(registry.host, "test/schema1", "old", {
      accept: mediaTypes.schema1Signed,
    });

    expect(fetched.contentType).toBe(mediaTypes.schema1Signed);
    expect(fetched.digest).toBe(pushed.digest);
    expect(extractSchema1Payload(fetched.bytes).equals(pushed.payload)).toBe(true);
    expect(extractSchema1Payload(pushed.signed).equals(pushed.payload)).toBe(true);

    const manifest = JSON.parse(pushed.payload.toString()) as {
      fsLayers: { blobSum: string }[];
      history: { v1Compatibility: string }[];
    };
    expect(manifest.fsLayers).toHaveLength(2);
    expect(manifest.fsLayers[1]!.blobSum).toBe(lower.digest);
    const top = JSON.parse(manifest.history[0]!.v1Compatibility) as {
      id: string;
      parent: string;
      throwaway: boolean;
    };
    const bottom = JSON.parse(manifest.history[1]!.v1Compatibility) as {
      id: string;
      parent?: string;
    };
    expect(top.throwaway).toBe(true);
    expect(top.parent).toBe(bottom.id);
    expect(bottom.parent).toBeUndefined();
  });

  test("schema1 with a bad signature is rejected", async () => {
    const pushed = await pushSchema1Image(registry.host, "test/schema1", "signed", [lower]);
    const document = JSON.parse(pushed.signed.toString()) as {
      signatures: { signature: string }[];
    };
    const original = document.signatures[0]!.signature;
    const flipped = `${original[0] === "A" ? "B" : "A"}${original.slice(1)}`;
    const tampered = Buffer.from(pushed.signed.toString().replace(original, flipped));

    await expect(
      pushManifest(registry.host, "test/schema1", "tampered", tampered, mediaTypes.schema1Signed),
    ).rejects.toThrow(/HTTP 400.*MANIFEST_UNVERIFIED/);
  });

  test("regclient fixtures push with their digests", async () => {
    const report = await pushRegclientFixtures(registry.host);

    const referrerTags = [
      "sha256-7e87ffc91b9ceafa85be2777b16b1be10e4664fd4f3acc86e4295b97da5163ba",
      "sha256-dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e",
      "sha256-ee378b79279b57eb5ac1f3b892c9ad2a9be9d9ccabe1a29a9cbaed8cad182358",
      "sha256-36ed7f4ec4545a40ca043f60d76653ef3d2a76f58a051c0f3a256aaab26fb847",
      "sha256-6bed79d0800a0d3a1d0e0e8105a6a5f7f7758ce09e160a8f142574c418302467",
    ];
    const nestedIndexTag =
      "sha256-8e54c6754f08d22f85c7552bb1951b228b8194d29b14a1639dbe50868da0273e";
    const rejected = new Map(report.rejectedBySkopeo.map((entry) => [entry.tag, entry.error]));
    expect([...rejected.keys()].sort()).toEqual([...referrerTags, nestedIndexTag].sort());
    for (const tag of referrerTags) {
      expect(rejected.get(tag)).toMatch(/cannot modify it: .*Instructed to preserve digests/);
    }
    expect(rejected.get(nestedIndexTag)).toMatch(
      /manifest list instead of a manifest for a single image/,
    );
    const allTags = await readLayoutTags(regclientLayoutDir);
    expect(report.copiedBySkopeo).toEqual(allTags.filter((tag) => !rejected.has(tag)));
    expect(report.copiedBySkopeo).toHaveLength(18);
    expect(report.untagged).toEqual([
      "sha256:819ff4564a5d4a1c07b4e25bbba420cace378d4ed32671e6ee4eea95df1b8c4c",
      "sha256:ad460bc30198d65c14708aa6ec4445498243bc642fce8b64ea7ce21ba559cc79",
    ]);

    for (const entry of await readLayoutIndex(regclientLayoutDir)) {
      const reference = entry.annotations?.["org.opencontainers.image.ref.name"] ?? entry.digest;
      const fetched = await fetchManifest(registry.host, regclientRepository, reference);
      const [, hex] = entry.digest.split(":");
      const expected = await readFile(join(regclientLayoutDir, "blobs", "sha256", hex!));
      expect(fetched.digest, reference).toBe(entry.digest);
      expect(fetched.bytes.equals(expected), reference).toBe(true);
    }
  });
});

describe("registry with htpasswd", () => {
  const credentials = { username: "tester", password: "p@ss word:1" };
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  test("anonymous requests get 401", async () => {
    const response = await registryRequest(registry.host, "/v2/");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
  });

  test("authenticated push and pull work", async () => {
    const layer = await makeLayer([{ type: "file", path: "private", content: "secret\n" }]);
    const config = makeImageConfig({ layers: [layer] });
    const image = { layers: [layer], config, format: "oci" as const };

    await expect(pushImage(registry.host, "private/app", "v1", image)).rejects.toThrow(/HTTP 401/);
    const pushed = await pushImage(registry.host, "private/app", "v1", image, { credentials });
    const fetched = await fetchManifest(registry.host, "private/app", "v1", { credentials });
    expect(fetched.digest).toBe(pushed.digest);

    const unpacked = await unpackWithUmoci(registry.host, "private/app", "v1", undefined, {
      credentials,
    });
    try {
      expect(await readFile(join(unpacked.rootfs, "private"), "utf8")).toBe("secret\n");
    } finally {
      await unpacked.remove();
    }
  });
});

describe("umoci oracle", () => {
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ schema1: true });
  });

  afterAll(async () => {
    await registry?.stop();
  });

  function fileEntry(tree: TreeEntry[], path: string): TreeEntry | undefined {
    return tree.find((entry) => entry.path === path);
  }

  test("unpacked image matches the built layers", async () => {
    const lower = await makeLayer(baseEntries);
    const upper = await makeLayer(upperEntries, { compression: "zstd" });
    const config = makeImageConfig({ layers: [lower, upper] });
    await pushImage(registry.host, "oracle/app", "v1", {
      layers: [lower, upper],
      config,
      format: "oci",
    });

    const unpacked = await unpackWithUmoci(registry.host, "oracle/app", "v1");
    try {
      const tree = await walkTree(unpacked.rootfs);
      expect(tree.map((entry) => entry.path)).toEqual(
        [
          "bin",
          "bin/new",
          "bin/sh",
          "bin/tool",
          "bin/tool-link",
          "deep",
          longName,
          "empty",
          "etc",
          "etc/hostname",
          "etc/no-access",
          "etc/secret",
          "xattr",
          "opaque",
          "opaque/new.txt",
          "unicode",
          "unicode/naïve café ✓.txt",
        ].sort(),
      );
      expect(fileEntry(tree, "etc/hostname")?.sha256).toBe(sha256Digest("changed\n"));
      expect(fileEntry(tree, "etc/hostname")?.size).toBe(8);
      expect(fileEntry(tree, "etc/secret")?.mode).toBe(0o600);
      expect(fileEntry(tree, "etc/no-access")?.mode).toBe(0o000);
      expect(fileEntry(tree, "bin/tool")?.mode).toBe(0o4755);
      expect(fileEntry(tree, "bin/tool")?.links).toBe(2);
      expect(fileEntry(tree, "bin/tool-link")?.sha256).toBe(fileEntry(tree, "bin/tool")?.sha256);
      expect(fileEntry(tree, "bin/sh")?.type).toBe("symlink");
      expect(fileEntry(tree, "bin/sh")?.target).toBe("tool");
      expect(fileEntry(tree, "empty")?.size).toBe(0);
      expect(fileEntry(tree, "deep")?.type).toBe("directory");
    } finally {
      await unpacked.remove();
    }
  });

  test("platform picks the index entry", async () => {
    const images = [];
    for (const architecture of ["amd64", "arm64"]) {
      const layer = await makeLayer([{ type: "file", path: "arch", content: architecture }]);
      const platform = { os: "linux", architecture };
      images.push({
        platform,
        layers: [layer],
        config: makeImageConfig({ layers: [layer], platform }),
      });
    }
    await pushIndex(registry.host, "oracle/multi", "v1", { images, format: "oci" });

    const arm = await unpackWithUmoci(registry.host, "oracle/multi", "v1", {
      os: "linux",
      architecture: "arm64",
    });
    try {
      expect(await readFile(join(arm.rootfs, "arch"), "utf8")).toBe("arm64");
    } finally {
      await arm.remove();
    }
  });

  test("schema1 image unpacks", async () => {
    const layer = await makeLayer([
      { type: "directory", path: "old" },
      { type: "file", path: "old/file", content: "from schema1\n" },
    ]);
    await pushSchema1Image(registry.host, "oracle/schema1", "v1", [layer]);

    const unpacked = await unpackWithUmoci(registry.host, "oracle/schema1", "v1");
    try {
      const tree = await walkTree(unpacked.rootfs);
      expect(tree.map((entry) => entry.path)).toEqual(["old", "old/file"]);
      expect(fileEntry(tree, "old/file")?.sha256).toBe(sha256Digest("from schema1\n"));
    } finally {
      await unpacked.remove();
    }
  });
});

describe("rclone mount", () => {
  test("mounts, lists and reads a WebDAV share", async () => {
    await withTempDir("selftest-share", async (root) => {
      const shared = join(root, "shared");
      const mountDir = join(root, "mnt");
      await mkdir(join(shared, "sub dir"), { recursive: true });
      await mkdir(mountDir);
      await writeFile(join(shared, "hello.txt"), "hello over webdav\n");
      await writeFile(join(shared, "sub dir", "data.bin"), Buffer.alloc(70_000, 7));

      const server = await serveFolderWithRclone(shared);
      try {
        const mount = await mountWithRclone(server.url, mountDir);
        try {
          expect(await isMountPoint(mountDir)).toBe(true);
          expect((await readdir(mountDir)).sort()).toEqual(["hello.txt", "sub dir"]);
          expect(await readFile(join(mountDir, "hello.txt"), "utf8")).toBe("hello over webdav\n");
          const data = await readFile(join(mountDir, "sub dir", "data.bin"));
          expect(data.equals(Buffer.alloc(70_000, 7))).toBe(true);
          await expect(writeFile(join(mountDir, "new.txt"), "x")).rejects.toThrow();
        } finally {
          await mount.unmount();
        }
        expect(await isMountPoint(mountDir)).toBe(false);
        expect(await readdir(mountDir)).toEqual([]);
      } finally {
        await server.stop();
      }
    });
  });

  test("mounts a share that needs a login", async () => {
    const credentials = { username: "reader", password: "pa ss:wörd" };
    await withTempDir("selftest-share", async (root) => {
      const shared = join(root, "shared");
      const mountDir = join(root, "mnt");
      await mkdir(shared);
      await mkdir(mountDir);
      await writeFile(join(shared, "private.txt"), "behind basic auth\n");

      const server = await serveFolderWithRclone(shared, { credentials });
      try {
        const anonymous = await fetch(server.url, { method: "PROPFIND", headers: { depth: "1" } });
        expect(anonymous.status).toBe(401);

        const mount = await mountWithRclone(server.url, mountDir, { credentials });
        try {
          expect(await readFile(join(mountDir, "private.txt"), "utf8")).toBe("behind basic auth\n");
        } finally {
          await mount.unmount();
        }
      } finally {
        await server.stop();
      }
    });
  });
});

describe("regdav process", () => {
  /** Stands in for bin/regdav: serves its own argv as JSON on the --listen address. */
  const standInScript = `
import { createServer } from "node:http";
const args = process.argv.slice(2);
if (process.env.STAND_IN_FAIL) {
  console.error("stand-in: startup failed on purpose");
  process.exit(2);
}
const [host, port] = args[args.indexOf("--listen") + 1].split(":");
createServer((request, response) => {
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify({ method: request.method, args }));
}).listen(Number(port), host, () => console.log("stand-in listening"));
`;

  test("startRegdav runs and stops the server", async () => {
    await withTempDir("selftest-regdav", async (dir) => {
      const launcher = join(dir, "stand-in.mjs");
      await writeFile(launcher, standInScript);

      const regdav = await startRegdav(["--registry", "127.0.0.1:1"], { launcher });
      const response = await fetch(regdav.url);
      const body = (await response.json()) as { args: string[] };
      expect(body.args.slice(0, 5)).toEqual([
        "serve",
        "--listen",
        new URL(regdav.url).host,
        "--cache-dir",
        regdav.cacheDir,
      ]);
      expect(body.args.slice(5)).toEqual(["--registry", "127.0.0.1:1"]);
      expect((await stat(regdav.cacheDir)).isDirectory()).toBe(true);
      expect(regdav.output()).toContain("stand-in listening");

      await regdav.stop();
      await expect(fetch(regdav.url)).rejects.toThrow();
      await expect(stat(regdav.cacheDir)).rejects.toThrow(/ENOENT/);
    });
  });

  test("startRegdav reports an early exit", async () => {
    await withTempDir("selftest-regdav", async (dir) => {
      const launcher = join(dir, "stand-in.mjs");
      await writeFile(launcher, standInScript);

      const started = startRegdav([], { launcher, env: { STAND_IN_FAIL: "1" } });
      await expect(started).rejects.toThrow(/exited with code 2[^]*startup failed on purpose/);
    });
  });
});
