import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createGzip } from "node:zlib";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  gzip,
  makeBlob,
  makeImageConfig,
  makeLayer,
  mediaTypes,
  sha256Digest,
  type LayerBlob,
} from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { listNames, walkFolder } from "../e2e/dav-client.js";
import {
  bodyOf,
  bodyText,
  cacheFilesOf,
  describeOutcome,
  encodePath,
  fetchOutcome,
  hexOf,
  rawTarHeader,
  TAR_END,
  tarPadding,
} from "./fault-fixtures.js";

const IMAGE_PASSWD = "root:x:0:0:image root:/root:/bin/sh\n";
/** The layer limit regdav runs with here, far below the bomb's uncompressed size. */
const MAX_LAYER_SIZE = 16 * 1024 * 1024;
const BOMB_SIZE = 256 * 1024 * 1024;
/** One more than the children a PROPFIND lists (PROPFIND_MAX_CHILDREN). */
const CROWDED_FOLDER_SIZE = 20_001;

/** Builds a layer whose entries try to reach outside the image root by name, link and hardlink. */
async function makeEscapeLayer(): Promise<LayerBlob> {
  return makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/passwd", content: IMAGE_PASSWD },
    { type: "file", path: "readme", content: "lower readme\n" },
    { type: "directory", path: "dir" },
    { type: "file", path: "dir/keep", content: "kept\n" },
    { type: "file", path: "../../../../tmp/evil-dotdot", content: "dotdot\n" },
    { type: "file", path: "/tmp/evil-absolute", content: "absolute\n" },
    { type: "file", path: "./tmp/./evil-dot", content: "dot\n" },
    { type: "symlink", path: "host-passwd", target: "/etc/passwd" },
    { type: "symlink", path: "dotdot-passwd", target: "../../../../../../etc/passwd" },
    { type: "symlink", path: "escape-shadow", target: "/etc/shadow" },
    { type: "symlink", path: "escape-proc", target: "../../../proc/self/environ" },
    { type: "symlink", path: "loop-a", target: "loop-b" },
    { type: "symlink", path: "loop-b", target: "loop-a" },
    { type: "symlink", path: "dir/up", target: ".." },
    { type: "symlink", path: "rootlink", target: "/" },
    { type: "hardlink", path: "hl-missing", target: "no/such/file" },
    { type: "hardlink", path: "hl-a", target: "hl-b" },
    { type: "hardlink", path: "hl-b", target: "hl-a" },
    { type: "hardlink", path: "hl-dotdot", target: "../../etc/passwd" },
  ]);
}

/** Builds an upper layer of whiteouts whose names try to hide `.`, `..` or paths above the root. */
async function makeWhiteoutLayer(): Promise<LayerBlob> {
  return makeLayer([
    { type: "file", path: ".wh..", content: "" },
    { type: "file", path: ".wh...", content: "" },
    { type: "file", path: ".wh.", content: "" },
    { type: "file", path: "etc/.wh..", content: "" },
    { type: "file", path: "etc/.wh...", content: "" },
    { type: "file", path: "../../.wh.readme", content: "" },
  ]);
}

/** Builds a gzip layer of three files whose second header has a wrong checksum. */
function makeCorruptLayer(): LayerBlob {
  const parts = [
    rawTarHeader("first.txt", 6),
    Buffer.from("first\n"),
    tarPadding(6),
    rawTarHeader("second.txt", 7),
    Buffer.from("second\n"),
    tarPadding(7),
    rawTarHeader("third.txt", 6),
    Buffer.from("third\n"),
    tarPadding(6),
    TAR_END,
  ];
  const tar = Buffer.concat(parts);
  // Flips one bit of the second name after its checksum was computed.
  tar[1024 + 3] = tar[1024 + 3]! ^ 0x01;
  const bytes = gzip(tar);
  return {
    ...makeBlob(mediaTypes.ociLayerGzip, bytes),
    diffId: sha256Digest(tar),
    uncompressed: tar,
  };
}

/** Builds a gzip layer of about 256 KiB that contains one 256 MiB file of zeros. */
async function makeBombLayer(): Promise<LayerBlob> {
  const gzipper = createGzip({ level: 9 });
  const compressed: Buffer[] = [];
  gzipper.on("data", (chunk: Buffer) => compressed.push(chunk));
  const done = new Promise((resolve) => gzipper.on("end", resolve));
  const diffId = createHash("sha256");
  const write = (chunk: Buffer) => {
    diffId.update(chunk);
    return gzipper.write(chunk)
      ? undefined
      : new Promise((resolve) => gzipper.once("drain", resolve));
  };

  await write(rawTarHeader("zeros.bin", BOMB_SIZE));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < BOMB_SIZE; written += zeros.length) await write(zeros);
  await write(TAR_END);
  gzipper.end();
  await done;
  const bytes = Buffer.concat(compressed);
  return {
    ...makeBlob(mediaTypes.ociLayerGzip, bytes),
    diffId: `sha256:${diffId.digest("hex")}`,
    uncompressed: Buffer.alloc(0),
  };
}

/** Builds a gzip layer with one folder of `count` empty files, `crowd/file-0` and so on. */
function makeCrowdedFolderLayer(count: number): LayerBlob {
  const parts = [rawTarHeader("crowd/", 0, "directory")];
  for (let i = 0; i < count; i++) parts.push(rawTarHeader(`crowd/file-${i}`, 0));
  parts.push(TAR_END);
  const tar = Buffer.concat(parts);
  return {
    ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)),
    diffId: sha256Digest(tar),
    uncompressed: tar,
  };
}

/** Returns the peak resident memory of a process in bytes, from /proc/PID/status. */
async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kib * 1024;
}

describe("hostile layers", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let corrupt: LayerBlob;
  let bomb: LayerBlob;

  const push = async (repository: string, layers: LayerBlob[]) => {
    const config = makeImageConfig({ layers });
    await pushImage(registry.host, repository, "v1", { layers, config, format: "oci" });
  };
  const url = (repository: string, path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/${repository}/_tags/v1/${path}`)}`;
  const escape = (path: string) => url("evil/escape", `rootfs/${path}`);
  const layerFolder = (repository: string, layer: LayerBlob) =>
    url(repository, `layers/1-${hexOf(layer.digest).slice(0, 12)}/`);
  const text = async (target: string) => {
    const outcome = await fetchOutcome(target);
    return outcome.kind === "response" ? `${outcome.status} ${outcome.body.toString()}` : "aborted";
  };

  beforeAll(async () => {
    registry = await startRegistry();
    await push("evil/escape", [await makeEscapeLayer(), await makeWhiteoutLayer()]);
    corrupt = makeCorruptLayer();
    await push("evil/corrupt", [corrupt]);
    bomb = await makeBombLayer();
    await push("evil/bomb", [bomb]);
    await push("evil/good", [await makeLayer([{ type: "file", path: "ok.txt", content: "ok\n" }])]);
    await push("evil/crowd", [makeCrowdedFolderLayer(CROWDED_FOLDER_SIZE)]);
    regdav = await startRegdav([
      "--registry",
      registry.host,
      "--max-layer-size",
      String(MAX_LAYER_SIZE),
    ]);
  }, 120_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  describe("names and links", () => {
    it("root lists only names inside the image", async () => {
      const names = await listNames(escape(""));
      expect(names).toEqual([
        "dir",
        "dotdot-passwd",
        "etc",
        "hl-dotdot",
        "host-passwd",
        "rootlink",
        "tmp",
      ]);
    });

    it("../, absolute and ./ names land below the root", async () => {
      expect(await listNames(escape("tmp/"))).toEqual(["evil-absolute", "evil-dot", "evil-dotdot"]);
      expect(await text(escape("tmp/evil-dotdot"))).toBe("200 dotdot\n");
      expect(await text(escape("tmp/evil-absolute"))).toBe("200 absolute\n");
    });

    it("absolute symlink reads the image's file", async () => {
      expect(await text(escape("host-passwd"))).toBe(`200 ${IMAGE_PASSWD}`);
    });

    it("../ symlink stops at the image root", async () => {
      expect(await text(escape("dotdot-passwd"))).toBe(`200 ${IMAGE_PASSWD}`);
    });

    it("symlinks to files missing in the image are 404", async () => {
      for (const name of ["escape-shadow", "escape-proc"]) {
        const outcome = await fetchOutcome(escape(name));
        expect(outcome.status, name).toBe(404);
      }
    });

    it("symlink loop is 404", async () => {
      const outcome = await fetchOutcome(escape("loop-a"));
      expect(outcome.status).toBe(404);
      expect(bodyText(outcome)).toMatch(/loop/);
    });

    it("folder link to its parent shows empty", async () => {
      expect(await listNames(escape("dir/"))).toEqual(["keep", "up"]);
      expect(await listNames(escape("dir/up/"))).toEqual([]);
      expect(await listNames(escape("rootlink/"))).toEqual([]);
    });

    it("recursive walk ends inside the image", async () => {
      const paths = await walkFolder(escape(""), 20);
      expect(paths.length).toBeLessThan(30);
      expect(paths.filter((path) => path.includes(".."))).toEqual([]);
    });

    it("hardlinks to missing targets and cycles are left out", async () => {
      for (const name of ["hl-missing", "hl-a", "hl-b"]) {
        const outcome = await fetchOutcome(escape(name));
        expect(outcome.status, name).toBe(404);
      }
    });

    it("../ hardlink target resolves inside the image", async () => {
      expect(await text(escape("hl-dotdot"))).toBe(`200 ${IMAGE_PASSWD}`);
    });
  });

  describe("whiteouts", () => {
    it("whiteouts of . and .. hide nothing", async () => {
      expect(await text(escape("etc/passwd"))).toBe(`200 ${IMAGE_PASSWD}`);
      expect(await text(escape("dir/keep"))).toBe("200 kept\n");
    });

    it("../ whiteout acts only inside the image", async () => {
      const outcome = await fetchOutcome(escape("readme"));
      expect(outcome.status, describeOutcome(outcome)).toBe(404);
    });

    it("whiteout markers are never listed", async () => {
      const upper = await listNames(url("evil/escape", "layers/"));
      const upperFolder = upper.find((name) => name.startsWith("2-") && !name.includes("."))!;
      // The layer contains markers only, and a marker creates no folder of its own.
      expect(await listNames(url("evil/escape", `layers/${upperFolder}/`))).toEqual([]);
    });
  });

  describe("corrupt tar header", () => {
    it("layer folder is 502 naming the offset", async () => {
      const started = Date.now();
      const response = await fetch(layerFolder("evil/corrupt", corrupt), {
        method: "PROPFIND",
        headers: { Depth: "1" },
      });
      const body = await response.text();
      expect(response.status).toBe(502);
      expect(body).toContain(
        `layer ${corrupt.digest}: invalid tar at offset 1024: header checksum mismatch`,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("rootfs read is 502", async () => {
      const outcome = await fetchOutcome(url("evil/corrupt", "rootfs/first.txt"));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
      expect(bodyText(outcome)).toContain("invalid tar at offset 1024");
    });

    it("raw layer blob is still served", async () => {
      const raw = url("evil/corrupt", `layers/1-${hexOf(corrupt.digest).slice(0, 12)}.tar.gz`);
      const outcome = await fetchOutcome(raw);
      expect(bodyOf(outcome)?.equals(corrupt.bytes)).toBe(true);
    });

    it("cache holds no index of the layer", async () => {
      const files = await cacheFilesOf(regdav.cacheDir, corrupt.digest);
      expect(files.filter((file) => file.startsWith("indexes/"))).toEqual([]);
      expect(files.filter((file) => file.endsWith(".partial"))).toEqual([]);
    });

    it("other images are still served", async () => {
      expect(await text(url("evil/good", "rootfs/ok.txt"))).toBe("200 ok\n");
    });
  });

  describe("folder of too many entries", () => {
    const crowd = (path: string) => url("evil/crowd", `rootfs/crowd/${path}`);

    it("PROPFIND of the folder is 403 at once", async () => {
      await fetch(crowd(""), { method: "PROPFIND", headers: { Depth: "0" } }).then((r) => r.text());
      const started = Date.now();
      const response = await fetch(crowd(""), { method: "PROPFIND", headers: { Depth: "1" } });
      const body = await response.text();
      expect(response.status).toBe(403);
      expect(body).toContain(`has ${CROWDED_FOLDER_SIZE} entries, more than the 20000`);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("Depth 0 and files by path still work", async () => {
      const response = await fetch(crowd(""), { method: "PROPFIND", headers: { Depth: "0" } });
      await response.text();
      expect(response.status).toBe(207);
      expect(await text(crowd("file-20000"))).toBe("200 ");
    });
  });

  describe("gzip bomb", () => {
    it("layer over --max-layer-size is 502 in bounded time", async () => {
      const started = Date.now();
      const response = await fetch(layerFolder("evil/bomb", bomb), {
        method: "PROPFIND",
        headers: { Depth: "1" },
      });
      const body = await response.text();
      expect(response.status).toBe(502);
      expect(body).toContain(`layer ${bomb.digest}: uncompressed size exceeds`);
      expect(body).toContain(`limit of ${MAX_LAYER_SIZE} bytes`);
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it("rootfs of the bomb is 502 too", async () => {
      const outcome = await fetchOutcome(url("evil/bomb", "rootfs/"));
      expect(outcome.status, describeOutcome(outcome)).toBe(502);
    });

    it("cache keeps nothing uncompressed of the bomb", async () => {
      const files = await cacheFilesOf(regdav.cacheDir, bomb.digest);
      expect(files.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
      expect(files.filter((file) => file.endsWith(".partial"))).toEqual([]);
    });

    it("regdav memory stayed bounded", async () => {
      expect(await peakResidentBytes(regdav.pid)).toBeLessThan(512 * 1024 * 1024);
    });

    it("other images are still served after the bomb", async () => {
      expect(await text(url("evil/good", "rootfs/ok.txt"))).toBe("200 ok\n");
    });
  });
});
