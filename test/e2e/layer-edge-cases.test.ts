import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { LayerBlob } from "../harness/image-builder.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import {
  davRequest,
  encodePath,
  getBytes,
  hrefPath,
  listEntries,
  listNames,
  statEntry,
  walkFolder,
} from "./dav-client.js";
import {
  gnuLongName,
  paxDeepPath,
  paxLongName,
  pushEdgeImage,
  pushOverlayImage,
  pushWhiteoutImage,
  specialNames,
  type EdgeImage,
} from "./edge-images.js";

const imagePasswd = "root:x:0:0:image root:/root:/bin/sh\n";

describe("layer edge cases", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let edge: EdgeImage;
  let whiteoutLayers: LayerBlob[];
  let overlayLayers: LayerBlob[];

  const imagePath = (path: string) => `${registry.host}/edge/cases/_tags/v1/${path}`;
  const image = (path: string) => `${regdav.url}${encodePath(imagePath(path))}`;
  const rootfs = (path: string) => image(`rootfs/${path}`);
  const text = async (url: string) => (await getBytes(url)).toString();
  /** Returns the name in `layers/` of the edge image's layer `position` (1 is the base layer). */
  const layerName = (position: number) => {
    const hex = edge.layers[position - 1]!.digest.slice("sha256:".length, "sha256:".length + 12);
    return `${position}-${hex}`;
  };
  const layerFolder = (position: number) => `layers/${layerName(position)}/`;
  const overlay = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/edge/overlay/_tags/v1/rootfs/${path}`)}`;
  const whiteouts = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/edge/whiteouts/_tags/v1/${path}`)}`;

  beforeAll(async () => {
    registry = await startRegistry();
    edge = await pushEdgeImage(registry.host, "v1");
    whiteoutLayers = await pushWhiteoutImage(registry.host, "v1");
    overlayLayers = await pushOverlayImage(registry.host, "v1");
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  describe("names", () => {
    it("special names are listed as written", async () => {
      const expected = [...specialNames, "dir with space#"].sort();
      expect(await listNames(rootfs("names/"))).toEqual(expected);
    });

    it("special names round-trip through hrefs", async () => {
      for (const entry of await listEntries(rootfs("names/"))) {
        const expected = "/" + imagePath(`rootfs/names/${entry.name}`);
        expect(hrefPath(entry.href, regdav.url), entry.name).toBe(expected);
        expect(entry.href, entry.name).not.toMatch(/[#?"<>& ]/);
      }
    });

    it("GET of an href from a listing returns the file", async () => {
      for (const entry of await listEntries(rootfs("names/"))) {
        if (entry.isFolder) continue;
        const bytes = await getBytes(new URL(entry.href, regdav.url).href);
        expect(bytes.toString(), entry.name).toBe(`content of ${entry.name}\n`);
      }
    });

    it("GET of percent-encoded names returns the content", async () => {
      for (const name of specialNames) {
        expect(await text(rootfs(`names/${name}`)), name).toBe(`content of ${name}\n`);
      }
    });

    it("folder with special characters lists its file", async () => {
      expect(await listNames(rootfs("names/dir with space#/"))).toEqual(["inner.txt"]);
      expect(await text(rootfs("names/dir with space#/inner.txt"))).toBe("inner\n");
    });

    it("long name in a PAX header", async () => {
      expect(await listNames(rootfs("long/"))).toEqual(["d".repeat(60), paxLongName]);
      expect(await text(rootfs(`long/${paxLongName}`))).toBe("pax long name\n");
    });

    it("path longer than ustar name and prefix", async () => {
      expect(await text(rootfs(paxDeepPath))).toBe("pax deep path\n");
    });

    it("long name in a GNU LongLink member", async () => {
      expect(await listNames(rootfs("gnu/"))).toEqual([gnuLongName, "long-link"]);
      expect(await text(rootfs(`gnu/${gnuLongName}`))).toBe("gnu long name\n");
    });

    it("long symlink target in a GNU LongLink member", async () => {
      expect(await text(rootfs("gnu/long-link"))).toBe("gnu long name\n");
    });
  });

  describe("normalization", () => {
    it("root holds every normalized top folder", async () => {
      expect(await listNames(rootfs(""))).toEqual([
        "abs",
        "bin",
        "dev",
        "dotted",
        "etc",
        "gnu",
        "long",
        "names",
        "opt",
        "run",
        "srv",
        "up",
        "usr",
      ]);
    });

    it("./ prefix is dropped", async () => {
      expect(await text(rootfs("dotted/file.txt"))).toBe("dotted\n");
    });

    it("absolute name lands below the root", async () => {
      expect(await text(rootfs("abs/file.txt"))).toBe("absolute\n");
    });

    it(".. is clamped at the image root", async () => {
      expect(await text(rootfs("up/outside.txt"))).toBe("clamped\n");
    });

    it("file and folder times are the tar mtimes", async () => {
      const file = await statEntry(rootfs("etc/os-release"));
      expect(file.modified).toBe("Thu, 06 May 2021 07:08:09 GMT");
      const folder = await statEntry(rootfs("etc/"));
      expect(folder.modified).toBe("Thu, 03 Feb 2022 04:05:06 GMT");
    });

    it("later duplicate entry wins in its layer", async () => {
      expect(await text(image(`${layerFolder(1)}etc/dup`))).toBe("second\n");
    });

    it("upper layer replaces a lower file", async () => {
      expect(await text(rootfs("etc/dup"))).toBe("third\n");
      expect((await statEntry(rootfs("etc/dup"))).size).toBe(6);
    });
  });

  describe("links", () => {
    it("hardlink in the same layer has the target content", async () => {
      expect(await text(rootfs("usr/bin/tool-hard"))).toBe("tool v1\n");
      expect((await statEntry(rootfs("usr/bin/tool-hard"))).size).toBe(8);
    });

    it("hardlink in the layer folder has the target content", async () => {
      expect(await text(image(`${layerFolder(1)}usr/bin/tool-hard`))).toBe("tool v1\n");
    });

    it("hardlink to a lower layer has the target content", async () => {
      expect(await text(rootfs("opt/tool-hard-lower"))).toBe("tool v1\n");
      expect((await statEntry(rootfs("opt/tool-hard-lower"))).size).toBe(8);
    });

    it("layer's hardlink to a lower layer explains its 404", async () => {
      const url = image(`${layerFolder(2)}opt/tool-hard-lower`);
      for (const [method, headers] of [
        ["GET", {}],
        ["PROPFIND", { depth: "0" }],
      ] as const) {
        const response = await davRequest(url, method, headers);
        const body = response.body.toString();
        expect(response.status, method).toBe(404);
        expect(body, method).toContain('"usr/bin/tool"');
        expect(body, method).toContain("lower layer");
        expect(body, method).toContain("rootfs/");
      }
    });

    it("base layer's missing hardlink target", async () => {
      const hex = overlayLayers[0]!.digest.slice("sha256:".length, "sha256:".length + 12);
      const path = `${registry.host}/edge/overlay/_tags/v1/layers/1-${hex}/hard-base/missing`;
      const response = await davRequest(`${regdav.url}${encodePath(path)}`);
      const body = response.body.toString();
      expect(response.status).toBe(404);
      expect(body).toContain('it is a hardlink to "nowhere/file", which is not a file in this image');
      expect(body).not.toContain("lower layer");
    });

    it("hardlink keeps the content it had when linked", async () => {
      // opt/dup-link links the base layer's etc/dup, which its own layer replaces afterwards.
      expect(await text(rootfs("opt/dup-link"))).toBe("second\n");
    });

    it("relative file symlink reads as its target", async () => {
      expect(await text(rootfs("etc/tool-link"))).toBe("tool v1\n");
      expect((await statEntry(rootfs("etc/tool-link"))).size).toBe(8);
    });

    it("absolute file symlink reads as its target", async () => {
      expect(await text(rootfs("etc/passwd-link"))).toBe(imagePasswd);
    });

    it("folder symlink lists its target", async () => {
      expect((await statEntry(rootfs("bin/"))).isFolder).toBe(true);
      expect(await listNames(rootfs("bin/"))).toEqual(["info-link", "tool", "tool-hard", "tool2"]);
      expect(await text(rootfs("bin/tool2"))).toBe("tool two\n");
    });

    it("link inside a folder link resolves", async () => {
      expect(await text(rootfs("bin/info-link"))).toBe("info page\n");
      expect(await text(rootfs("usr/bin/info-link"))).toBe("info page\n");
    });

    it("dangling and loop links are left out", async () => {
      const names = await listNames(rootfs("etc/"));
      expect(names).toEqual(["dup", "escape", "os-release", "passwd", "passwd-link", "tool-link"]);
    });

    it("dangling and loop links are 404", async () => {
      for (const name of ["etc/dangling", "etc/loop-a", "etc/loop-b"]) {
        expect((await davRequest(rootfs(name))).status, name).toBe(404);
      }
    });

    it("link out of the image reads the image's file", async () => {
      const bytes = await text(rootfs("etc/escape"));
      expect(bytes).toBe(imagePasswd);
    });

    it("links out of the image never reach host files", async () => {
      for (const name of ["etc/escape-missing", "etc/escape-absolute"]) {
        expect((await davRequest(rootfs(name))).status, name).toBe(404);
      }
    });

    it("hardlink out of the image is left out", async () => {
      expect(await listNames(overlay("hard/"))).toEqual([]);
      expect((await davRequest(overlay("hard/escape"))).status).toBe(404);
      expect((await davRequest(overlay("hard/absolute"))).status).toBe(404);
    });

    it("folder link to its parent shows empty", async () => {
      expect((await statEntry(rootfs("usr/share/up/"))).isFolder).toBe(true);
      expect(await listNames(rootfs("usr/share/up/"))).toEqual([]);
    });
  });

  describe("skipped entry types", () => {
    it("devices are left out", async () => {
      expect(await listNames(rootfs("dev/"))).toEqual([]);
    });

    it("fifos are left out", async () => {
      expect(await listNames(rootfs("run/"))).toEqual([]);
    });

    it("devices are 404", async () => {
      for (const name of ["dev/null", "dev/sda", "run/fifo"]) {
        expect((await davRequest(rootfs(name))).status, name).toBe(404);
      }
    });
  });

  describe("compression", () => {
    it("multi-member gzip layer holds both members", async () => {
      // The split is at half the tar, so the first entry is in member one, the last in member two.
      expect(await text(image(`${layerFolder(1)}etc/passwd`))).toBe(imagePasswd);
      const last = specialNames.at(-1)!;
      expect(await text(image(`${layerFolder(1)}names/${last}`))).toBe(`content of ${last}\n`);
    });

    it("zstd layer is read", async () => {
      expect(await listNames(image(layerFolder(2)))).toEqual(["etc", "opt", "usr"]);
      expect(await text(image(`${layerFolder(2)}usr/bin/tool2`))).toBe("tool two\n");
    });

    it("uncompressed layer is read", async () => {
      expect(await text(image(`${layerFolder(3)}srv/plain.txt`))).toBe("uncompressed layer\n");
    });

    it("raw layers have the right extensions", async () => {
      const files = (await listEntries(image("layers/"))).filter((entry) => !entry.isFolder);
      const extensions = files.map((entry) => entry.name.slice(entry.name.indexOf(".")));
      expect(extensions).toEqual([
        ".tar.gz",
        ".tar.zst",
        ".tar",
        ".tar.gz",
        ".tar",
        ".tar.gz",
        ".tar",
      ]);
    });
  });

  describe("empty layers", () => {
    const shapes = [
      { position: 5, shape: "0 bytes", size: 0 },
      { position: 6, shape: "32-byte gzip", size: 32 },
      { position: 7, shape: "10240 zero bytes", size: 10240 },
    ];

    for (const { position, shape, size } of shapes) {
      it(`${shape} is an empty folder`, async () => {
        expect((await statEntry(image(layerFolder(position)))).isFolder).toBe(true);
        expect(await listNames(image(layerFolder(position)))).toEqual([]);
      });

      it(`${shape} raw file has its size`, async () => {
        const entries = await listEntries(image("layers/"));
        const raw = entries.find((entry) => entry.name.startsWith(`${layerName(position)}.`));
        expect(raw?.size).toBe(size);
      });
    }
  });

  describe("paths that change kind", () => {
    it("folder replaces a lower file", async () => {
      expect((await statEntry(overlay("swap/file-to-dir/"))).isFolder).toBe(true);
      expect(await text(overlay("swap/file-to-dir/inner.txt"))).toBe("now a folder\n");
    });

    it("file replaces a lower folder and its files", async () => {
      expect(await text(overlay("swap/dir-to-file"))).toBe("now a file\n");
      expect((await davRequest(overlay("swap/dir-to-file/inner.txt"))).status).toBe(404);
    });

    it("whiteout leaves a file of its own layer", async () => {
      expect(await listNames(overlay("same/"))).toEqual(["kept.txt"]);
      expect(await text(overlay("same/kept.txt"))).toBe("kept\n");
    });
  });

  describe("whiteouts", () => {
    it("rootfs shows the merge of three layers", async () => {
      expect(await listNames(whiteouts("rootfs/"))).toEqual(["a", "b", "c", "d", "e"]);
      expect(await listNames(whiteouts("rootfs/a/"))).toEqual(["gone.txt", "keep.txt"]);
      expect(await listNames(whiteouts("rootfs/b/"))).toEqual(["third.txt"]);
      expect(await listNames(whiteouts("rootfs/c/"))).toEqual([]);
      expect(await listNames(whiteouts("rootfs/d/"))).toEqual(["y.txt"]);
      expect(await listNames(whiteouts("rootfs/e/"))).toEqual([]);
    });

    it("file re-added above its whiteout has the new content", async () => {
      expect(await text(whiteouts("rootfs/a/gone.txt"))).toBe("back\n");
    });

    it("folder re-added above its whiteout lost its old files", async () => {
      expect((await davRequest(whiteouts("rootfs/d/x.txt"))).status).toBe(404);
    });

    it("opaque folder hides the lower files", async () => {
      expect((await davRequest(whiteouts("rootfs/b/old1.txt"))).status).toBe(404);
      expect((await davRequest(whiteouts("rootfs/b/sub/"), "PROPFIND")).status).toBe(404);
      expect((await davRequest(whiteouts("rootfs/b/new.txt"))).status).toBe(404);
    });

    it("layer folders show their own files", async () => {
      const hex = (layer: LayerBlob) => layer.digest.slice(7, 19);
      const [first, second, third] = whiteoutLayers.map(hex);
      expect(await walkFolder(whiteouts(`layers/2-${second}/`))).toEqual([
        "b/",
        "b/new.txt",
        "e/",
        "e/added.txt",
      ]);
      expect(await walkFolder(whiteouts(`layers/3-${third}/`))).toEqual([
        "a/",
        "a/gone.txt",
        "b/",
        "b/third.txt",
        "d/",
        "d/y.txt",
      ]);
      expect(await listNames(whiteouts(`layers/1-${first}/`))).toEqual(["a", "b", "c", "d"]);
    });

    it("no whiteout names anywhere", async () => {
      const paths = await walkFolder(whiteouts(""));
      expect(paths).toContain("rootfs/a/keep.txt");
      expect(paths.filter((path) => path.includes(".wh."))).toEqual([]);
    });
  });
});
