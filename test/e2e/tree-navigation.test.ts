import { createHash } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  makeImageConfig,
  makeLayer,
  type ImageBlob,
  type LayerBlob,
} from "../harness/image-builder.js";
import { pushImage, pushManifest, type PushedImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import {
  davRequest,
  encodePath,
  getBytes,
  listEntries,
  listNames,
  parseMultistatus,
  rawRequest,
  statEntry,
} from "./dav-client.js";
import { imageFolderNames, imageSubfolders } from "./folder-names.js";

/** Returns the first 12 hex digits of a digest, as layer names in `layers/` show them. */
function short(blob: ImageBlob): string {
  return blob.digest.slice("sha256:".length, "sha256:".length + 12);
}

function hexOf(blob: ImageBlob): string {
  return blob.digest.slice("sha256:".length);
}

describe("tree navigation", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let debianLayers: LayerBlob[];
  let debianConfig: ImageBlob;
  let debian: PushedImage;
  let api: PushedImage;
  let apiConfig: ImageBlob;

  /** The share URL of a path below the registry folder. */
  const url = (path: string) => `${regdav.url}${encodePath(`${registry.host}/${path}`)}`;
  const bookworm = (path: string) => url(`library/debian/_tags/bookworm/${path}`);

  beforeAll(async () => {
    registry = await startRegistry();

    debianLayers = [
      await makeLayer(
        [
          { type: "directory", path: "etc" },
          {
            type: "file",
            path: "etc/os-release",
            content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
            mtime: new Date("2023-06-10T12:00:00Z"),
          },
          { type: "directory", path: "bin" },
          { type: "file", path: "bin/sh", content: "#!shell\n", mode: 0o755 },
        ],
        { format: "docker" },
      ),
      await makeLayer([{ type: "file", path: "usr/share/doc/readme.txt", content: "docs\n" }], {
        format: "docker",
      }),
      await makeLayer([{ type: "file", path: "etc/hostname", content: "debian\n" }], {
        format: "docker",
      }),
    ];
    debianConfig = makeImageConfig({ layers: debianLayers, format: "docker" });
    const debianImage = { layers: debianLayers, config: debianConfig, format: "docker" as const };
    debian = await pushImage(registry.host, "library/debian", "bookworm", debianImage);
    await pushImage(registry.host, "library/debian", "latest", debianImage);

    const bullseyeLayer = await makeLayer([
      { type: "file", path: "etc/debian_version", content: "11\n" },
    ]);
    const bullseye = makeImageConfig({ layers: [bullseyeLayer] });
    const bullseyeImage = { layers: [bullseyeLayer], config: bullseye, format: "oci" as const };
    await pushImage(registry.host, "library/debian", "bullseye", bullseyeImage);

    const apiLayer = await makeLayer([{ type: "file", path: "srv/api", content: "api\n" }]);
    apiConfig = makeImageConfig({ layers: [apiLayer] });
    const apiImage = { layers: [apiLayer], config: apiConfig, format: "oci" as const };
    api = await pushImage(registry.host, "team/app/api", "v1", apiImage);

    const appLayer = await makeLayer([{ type: "file", path: "srv/app", content: "app\n" }]);
    const appConfig = makeImageConfig({ layers: [appLayer] });
    const appImage = { layers: [appLayer], config: appConfig, format: "oci" as const };
    await pushImage(registry.host, "team/app", "latest", appImage);

    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("root lists the given registry", async () => {
    expect(await listNames(regdav.url)).toEqual([registry.host]);
  });

  it("registry lists top-level namespaces", async () => {
    expect(await listNames(url(""))).toEqual(["library", "team"]);
  });

  it("namespace lists nested repositories", async () => {
    expect(await listNames(url("library/"))).toEqual(["debian"]);
    expect(await listNames(url("team/"))).toEqual(["app"]);
  });

  it("repository that is also a parent lists both", async () => {
    expect(await listNames(url("team/app/"))).toEqual(["_blobs", "_manifests", "_tags", "api"]);
  });

  it("leaf repository lists its three folders", async () => {
    expect(await listNames(url("library/debian/"))).toEqual(["_blobs", "_manifests", "_tags"]);
    expect(await listNames(url("team/app/api/"))).toEqual(["_blobs", "_manifests", "_tags"]);
  });

  it("_tags lists every tag", async () => {
    const tags = await listNames(url("library/debian/_tags/"));
    expect(tags).toEqual(["bookworm", "bullseye", "latest"]);
    expect(await listNames(url("team/app/_tags/"))).toEqual(["latest"]);
    expect(await listNames(url("team/app/api/_tags/"))).toEqual(["v1"]);
  });

  it("tag folder lists the image files", async () => {
    const entries = await listEntries(bookworm(""));
    const names = entries.map((entry) => entry.name);
    expect(names).toEqual(imageFolderNames);
    const folders = entries.filter((entry) => entry.isFolder).map((entry) => entry.name);
    expect(folders).toEqual(imageSubfolders);
  });

  it("_manifests resolves a digest as a folder path", async () => {
    const hex = hexOf(debian.manifest);
    const names = await listNames(url(`library/debian/_manifests/sha256/${hex}/`));
    expect(names).toEqual(imageFolderNames);
  });

  it("_manifests resolves a digest as one segment", async () => {
    const names = await listNames(url(`library/debian/_manifests/${debian.digest}/`));
    expect(names).toEqual(imageFolderNames);
  });

  it("_manifests by digest serves the same manifest", async () => {
    const bytes = await getBytes(url(`team/app/api/_manifests/${api.digest}/manifest.json`));
    expect(bytes.equals(api.manifest.bytes)).toBe(true);
  });

  it("_blobs returns a blob's raw bytes", async () => {
    const layer = debianLayers[1]!;
    const byFolder = await getBytes(url(`library/debian/_blobs/sha256/${hexOf(layer)}`));
    expect(byFolder.equals(layer.bytes)).toBe(true);
    const bySegment = await getBytes(url(`library/debian/_blobs/${debianConfig.digest}`));
    expect(bySegment.equals(debianConfig.bytes)).toBe(true);
  });

  it("_manifests lists the digests seen so far", async () => {
    await listNames(bookworm(""));
    const hexes = await listNames(url("library/debian/_manifests/sha256/"));
    expect(hexes).toContain(hexOf(debian.manifest));
  });

  it("_blobs lists the blobs seen so far", async () => {
    await listNames(bookworm(""));
    const hexes = await listNames(url("library/debian/_blobs/sha256/"));
    const expected = [debianConfig, ...debianLayers].map(hexOf).sort();
    expect(hexes).toEqual(expected);
  });

  it("_blobs reports the blob size", async () => {
    const layer = debianLayers[0]!;
    const entry = await statEntry(url(`library/debian/_blobs/sha256/${hexOf(layer)}`));
    expect(entry.size).toBe(layer.size);
  });

  it("PROPFIND reports each file's real size", async () => {
    expect((await statEntry(bookworm("manifest.json"))).size).toBe(debian.manifest.size);
    expect((await statEntry(bookworm("config.json"))).size).toBe(debianConfig.size);
    const rawLayer = `layers/2-${short(debianLayers[1]!)}.tar.gz`;
    expect((await statEntry(bookworm(rawLayer))).size).toBe(debianLayers[1]!.size);
    // 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' is 55 bytes.
    expect((await statEntry(bookworm("rootfs/etc/os-release"))).size).toBe(55);
    expect((await statEntry(bookworm("rootfs/bin/sh"))).size).toBe(8);
  });

  it("PROPFIND etag is the etag GET sends", async () => {
    const files = ["manifest.json", "config.json", "rootfs/etc/os-release", "rootfs/etc/hostname"];
    for (const file of files) {
      const entry = await statEntry(bookworm(file));
      const response = await davRequest(bookworm(file));
      expect(entry.etag, file).toMatch(/^".+"$/);
      expect(response.headers.get("etag"), file).toBe(entry.etag);
    }
  });

  it("etags of different files differ", async () => {
    const files = ["manifest.json", "config.json", "rootfs/etc/os-release", "rootfs/etc/hostname"];
    const etags = new Set<string | undefined>();
    for (const file of files) etags.add((await statEntry(bookworm(file))).etag);
    expect(etags.size).toBe(files.length);
  });

  it("layer file modification time is the tar mtime", async () => {
    const merged = await statEntry(bookworm("rootfs/etc/os-release"));
    expect(merged.modified).toBe("Sat, 10 Jun 2023 12:00:00 GMT");
    const layerFolder = `layers/1-${short(debianLayers[0]!)}/etc/os-release`;
    expect((await statEntry(bookworm(layerFolder))).modified).toBe("Sat, 10 Jun 2023 12:00:00 GMT");
    // makeLayer's default mtime.
    expect((await statEntry(bookworm("rootfs/etc/hostname"))).modified).toBe(
      "Mon, 01 Jan 2024 00:00:00 GMT",
    );
  });

  it("folders have resourcetype collection", async () => {
    const folders = ["", "library/", "library/debian/", "library/debian/_tags/"];
    folders.push("library/debian/_tags/bookworm/", "library/debian/_tags/bookworm/rootfs/etc/");
    for (const folder of folders) {
      expect((await statEntry(url(folder))).isFolder, folder).toBe(true);
    }
  });

  it("files have no collection resourcetype", async () => {
    for (const file of ["manifest.json", "config.json", "rootfs/bin/sh"]) {
      expect((await statEntry(bookworm(file))).isFolder, file).toBe(false);
    }
  });

  // rclone 1.60 sends `PROPFIND /./127.0.0.1:5000/`, because Go writes a
  // relative path whose first segment has a colon with a leading `./`.
  it("./ segment in a request path is ignored", async () => {
    const path = `/./${encodePath(`${registry.host}/library/`)}`;
    const dotted = await rawRequest(regdav.url, path, "PROPFIND", { Depth: "1" });
    expect(dotted.status, dotted.body.toString()).toBe(207);
    const names = parseMultistatus(dotted.body.toString()).map((entry) => entry.name);
    expect(names.sort()).toEqual(["debian", "library"]);
  });

  it("missing paths are 404", async () => {
    const missing = [
      "nosuch/",
      "library/nosuch/",
      "library/debian/_tags/nosuch/",
      "library/debian/_tags/bookworm/nosuch.json",
      "library/debian/_tags/bookworm/rootfs/etc/nosuch",
      "library/debian/_tags/bookworm/rootfs/nosuch/deeper",
      `library/debian/_manifests/sha256/${"0".repeat(64)}/`,
      `library/debian/_blobs/sha256/${"0".repeat(64)}`,
      "library/debian/_nosuch/",
    ];
    for (const path of missing) {
      const propfind = await davRequest(url(path), "PROPFIND", { Depth: "1" });
      expect(propfind.status, `PROPFIND ${path}`).toBe(404);
      const get = await davRequest(url(path));
      expect(get.status, `GET ${path}`).toBe(404);
    }
  });

  it("unreachable registry is 502 naming it", async () => {
    const propfind = await davRequest(`${regdav.url}127.0.0.1:1/`, "PROPFIND", { Depth: "1" });
    expect(propfind.status).toBe(502);
    expect(propfind.body.toString()).toContain("127.0.0.1:1");

    const get = await davRequest(`${regdav.url}127.0.0.1:1/library/demo/_tags/`);
    expect(get.status).toBe(502);
    expect(get.body.toString()).toContain("127.0.0.1:1");
  });

  it("server keeps serving after a 502", async () => {
    const failed = await davRequest(`${regdav.url}127.0.0.1:1/library/demo/_tags/v1/`, "PROPFIND");
    expect(failed.status).toBe(502);

    const tags = await listNames(url("library/debian/_tags/"));
    expect(tags).toEqual(["bookworm", "bullseye", "latest"]);
    const bytes = await getBytes(bookworm("rootfs/etc/hostname"));
    expect(bytes.toString()).toBe("debian\n");
  });
});

/** Returns `size` bytes that look random but are the same on every run. */
function pseudoRandomBytes(size: number, seed: string): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * 32 < size; counter++) {
    blocks.push(createHash("sha256").update(`${seed} ${counter}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** 300 KiB, so that reads cross the 64 KiB chunks of streams and the 128 KiB zstd blocks. */
const bigGzipFile = pseudoRandomBytes(300 * 1024, "gzip");
const bigZstdFile = pseudoRandomBytes(300 * 1024 + 7, "zstd");

/** More tags than the 1000 that regdav requests per page of the tag list. */
const manyTagCount = 1005;

describe("image folder files", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let layers: LayerBlob[];
  let config: ImageBlob;
  let pushed: PushedImage;

  const image = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/library/files/_tags/v1/${path}`)}`;
  const big = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/library/big/_tags/v1/rootfs/${path}`)}`;
  const repositoryUrl = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/${path}`)}`;

  beforeAll(async () => {
    registry = await startRegistry();

    const bigLayers = [
      await makeLayer([{ type: "file", path: "big-gzip.bin", content: bigGzipFile }]),
      await makeLayer([{ type: "file", path: "big-zstd.bin", content: bigZstdFile }], {
        compression: "zstd",
      }),
    ];
    const bigImage = { layers: bigLayers, config: makeImageConfig({ layers: bigLayers }) };
    await pushImage(registry.host, "library/big", "v1", { ...bigImage, format: "oci" });

    const emptyConfig = makeImageConfig({ layers: [], history: [] });
    await pushImage(registry.host, "library/empty", "v1", {
      layers: [],
      config: emptyConfig,
      format: "oci",
    });

    const many = await pushImage(registry.host, "library/many", "tag-0000", {
      ...bigImage,
      format: "oci",
    });
    const { bytes, mediaType } = many.manifest;
    for (let i = 1; i < manyTagCount; i++) {
      const tag = `tag-${String(i).padStart(4, "0")}`;
      await pushManifest(registry.host, "library/many", tag, bytes, mediaType);
    }
    for (const tag of ["1.0.0-RC_1", "Latest", "v1.2.3__build.7"]) {
      await pushManifest(registry.host, "library/many", tag, bytes, mediaType);
    }

    layers = [
      await makeLayer([{ type: "file", path: "one.txt", content: "one\n" }]),
      await makeLayer([{ type: "file", path: "two.txt", content: "two\n" }]),
      await makeLayer([{ type: "file", path: "three.txt", content: "three\n" }], {
        compression: "zstd",
      }),
    ];
    config = makeImageConfig({ layers, config: { Cmd: ["/bin/true"], WorkingDir: "/srv" } });
    const image = { layers, config, format: "oci" as const };
    pushed = await pushImage(registry.host, "library/files", "v1", image);
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("manifest.json is exactly the pushed bytes", async () => {
    const bytes = await getBytes(image("manifest.json"));
    expect(bytes.equals(pushed.manifest.bytes)).toBe(true);
  });

  it("config.json is exactly the config blob", async () => {
    const bytes = await getBytes(image("config.json"));
    expect(bytes.equals(config.bytes)).toBe(true);
  });

  it("layers lists a raw file and a folder per layer", async () => {
    const [one, two, three] = [layers[0]!, layers[1]!, layers[2]!];
    expect(await listNames(image("layers/"))).toEqual([
      `1-${short(one)}`,
      `1-${short(one)}.tar.gz`,
      `2-${short(two)}`,
      `2-${short(two)}.tar.gz`,
      `3-${short(three)}`,
      `3-${short(three)}.tar.zst`,
    ]);
  });

  it("layer contents are folders, raw layers files", async () => {
    const entries = await listEntries(image("layers/"));
    const folders = entries.filter((entry) => entry.isFolder).map((entry) => entry.name);
    const [one, two, three] = [layers[0]!, layers[1]!, layers[2]!];
    expect(folders).toEqual([`1-${short(one)}`, `2-${short(two)}`, `3-${short(three)}`]);
  });

  it("raw layer files equal the blobs", async () => {
    const extensions = [".tar.gz", ".tar.gz", ".tar.zst"];
    for (const [offset, layer] of layers.entries()) {
      const name = `layers/${offset + 1}-${short(layer)}${extensions[offset]}`;
      const bytes = await getBytes(image(name));
      expect(bytes.equals(layer.bytes), name).toBe(true);
    }
  });

  it("each layer folder holds only its own files", async () => {
    expect(await listNames(image(`layers/1-${short(layers[0]!)}/`))).toEqual(["one.txt"]);
    expect(await listNames(image(`layers/2-${short(layers[1]!)}/`))).toEqual(["two.txt"]);
    expect(await listNames(image(`layers/3-${short(layers[2]!)}/`))).toEqual(["three.txt"]);
  });

  it("empty image has empty rootfs and layers", async () => {
    const tag = "library/empty/_tags/v1/";
    const names = await listNames(repositoryUrl(tag));
    expect(names).toEqual(imageFolderNames);
    expect(await listNames(repositoryUrl(`${tag}rootfs/`))).toEqual([]);
    expect(await listNames(repositoryUrl(`${tag}layers/`))).toEqual([]);
  });

  it("_tags lists every page of tags", async () => {
    const tags = await listNames(repositoryUrl("library/many/_tags/"));
    expect(tags.length).toBe(manyTagCount + 3);
    expect(tags).toContain("tag-0000");
    expect(tags).toContain("tag-1004");
  });

  it("tags with dots, capitals and underscores open", async () => {
    for (const tag of ["1.0.0-RC_1", "Latest", "v1.2.3__build.7"]) {
      const url = repositoryUrl(`library/many/_tags/${tag}/rootfs/`);
      expect(await listNames(url), tag).toEqual(["big-gzip.bin", "big-zstd.bin"]);
    }
  });

  it("large files read whole", async () => {
    const gzipBytes = await getBytes(big("big-gzip.bin"));
    expect(gzipBytes.equals(bigGzipFile)).toBe(true);
    const zstdBytes = await getBytes(big("big-zstd.bin"));
    expect(zstdBytes.equals(bigZstdFile)).toBe(true);
  });

  it("large files report their size", async () => {
    expect((await statEntry(big("big-gzip.bin"))).size).toBe(300 * 1024);
    expect((await statEntry(big("big-zstd.bin"))).size).toBe(300 * 1024 + 7);
    const head = await davRequest(big("big-zstd.bin"), "HEAD");
    expect(head.headers.get("content-length")).toBe(String(300 * 1024 + 7));
  });

  it("byte ranges return the requested slice", async () => {
    const ranges = [
      { header: "bytes=0-0", start: 0, end: 1 },
      { header: "bytes=65530-65545", start: 65530, end: 65546 },
      { header: "bytes=200000-299999", start: 200000, end: 300000 },
      { header: "bytes=-10", start: bigZstdFile.length - 10, end: bigZstdFile.length },
      { header: "bytes=307000-", start: 307000, end: bigZstdFile.length },
    ];
    for (const { header, start, end } of ranges) {
      const response = await davRequest(big("big-zstd.bin"), "GET", { Range: header });
      expect(response.status, header).toBe(206);
      expect(response.body.equals(bigZstdFile.subarray(start, end)), header).toBe(true);
    }
  });

  it("byte range of a gzip layer file", async () => {
    const response = await davRequest(big("big-gzip.bin"), "GET", { Range: "bytes=131000-131100" });
    expect(response.status).toBe(206);
    expect(response.body.equals(bigGzipFile.subarray(131000, 131101))).toBe(true);
  });

  it("rootfs merges every layer", async () => {
    expect(await listNames(image("rootfs/"))).toEqual(["one.txt", "three.txt", "two.txt"]);
    expect((await getBytes(image("rootfs/three.txt"))).toString()).toBe("three\n");
  });
});
