import { spawnSync } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  makeImageConfig,
  makeLayer,
  sha256Digest,
  type LayerBlob,
  type TarEntry,
} from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, requireTool, type TempDir } from "../harness/tools.js";
import { davRequest, encodePath, getBytes, walkFolder } from "./dav-client.js";

/*
 * Single-layer images whose tar names one path more than once, or links
 * through a path that an earlier member changed. regdav's layer folder and
 * rootfs/ must show what GNU tar 1.34 leaves after extracting the same tar
 * bytes, in member order, into an empty folder. Running tar as root or as
 * another user gives the same paths, kinds and contents for these cases.
 */

/**
 * Paths, folders with a trailing `/`, mapped to "folder" or to the sha256
 * of the file's content.
 */
type TreeSnapshot = Record<string, string>;

interface TarOrderCase {
  title: string;
  /** The repository the case's image is pushed to. */
  repository: string;
  entries: TarEntry[];
  /**
   * Options added to `tar -x`. `--recursive-unlink` makes a later member
   * replace whatever is at its path, a folder and its files included, as the
   * OCI image spec (layer.md, changeset over existing files) requires unless
   * both are folders. Plain `tar -x` keeps a folder that is not empty and
   * fails the member that would replace it. `--overwrite` rewrites a file in
   * place, so a hardlink made earlier would show the later content.
   */
  tarOptions: string[];
  /** The tree tar leaves: paths, folders with a trailing `/`, mapped to file content. */
  extracted: Record<string, string>;
  /** Text that tar's error output contains; without it, tar must print nothing. */
  tarError?: string;
  /** What the share shows where it differs from tar by design, in the form of `extracted`. */
  shown?: Record<string, string>;
}

const file = (path: string, content: string): TarEntry => ({ type: "file", path, content });
const folder = (path: string, mode?: number): TarEntry => ({ type: "directory", path, mode });
const hardlink = (path: string, target: string): TarEntry => ({ type: "hardlink", path, target });

const cases: TarOrderCase[] = [
  {
    // tar skips d/b, because d is a file when d/b arrives, and umoci refuses
    // the whole layer. The share keeps the later member and makes the file
    // in its way a folder, as src/image/own-tree.ts describes, so d/a is gone
    // with the folder the file replaced, and d/b shows.
    title: "folder, file over it, file below",
    repository: "tar-order/folder-file-below",
    entries: [folder("d"), file("d/a", "a"), file("d", "d as file"), file("d/b", "b")],
    tarOptions: ["--recursive-unlink"],
    extracted: { d: "d as file" },
    tarError: "d/b: Cannot unlink: Not a directory",
    shown: { "d/": "", "d/b": "b" },
  },
  {
    title: "file, folder over it, file again",
    repository: "tar-order/file-folder-file",
    entries: [file("x", "x1"), folder("x"), file("x/y", "y"), file("x", "x2")],
    tarOptions: ["--recursive-unlink"],
    extracted: { x: "x2" },
  },
  {
    title: "hardlink through a replaced folder",
    repository: "tar-order/link-replaced-folder",
    entries: [file("t/f", "f"), file("t", "t as file"), hardlink("h", "t/f")],
    tarOptions: ["--recursive-unlink"],
    extracted: { t: "t as file" },
    tarError: "h: Cannot hard link to",
  },
  {
    title: "hardlink between two target versions",
    repository: "tar-order/link-between-versions",
    entries: [file("a", "content 1"), hardlink("h", "a"), file("a", "content 2")],
    tarOptions: ["--recursive-unlink"],
    extracted: { a: "content 2", h: "content 1" },
  },
  {
    title: "hardlink through a folder symlink",
    repository: "tar-order/link-through-symlink",
    entries: [
      file("real/f", "real f"),
      { type: "symlink", path: "s", target: "real" },
      hardlink("h", "s/f"),
    ],
    tarOptions: ["--recursive-unlink"],
    extracted: { "real/": "", "real/f": "real f", "s/": "", "s/f": "real f", h: "real f" },
  },
  {
    title: "same file twice",
    repository: "tar-order/file-twice",
    entries: [file("f", "first"), file("f", "second")],
    tarOptions: ["--recursive-unlink"],
    extracted: { f: "second" },
  },
  {
    // GNU tar 1.34 with --recursive-unlink deletes d/k when it extracts the
    // second d/, which the OCI rule for folder over folder forbids.
    // NOTE: regdav's share carries no modes, so the later mode 0o750, which tar
    // applies, is not compared.
    title: "same folder twice",
    repository: "tar-order/folder-twice",
    entries: [folder("d", 0o700), file("d/k", "kept"), folder("d", 0o750)],
    tarOptions: [],
    extracted: { "d/": "", "d/k": "kept" },
  },
];

/** Converts a case's expected tree into a snapshot, hashing each file's content. */
function snapshotOf(tree: Record<string, string>): TreeSnapshot {
  const snapshot: TreeSnapshot = {};
  for (const [path, content] of Object.entries(tree)) {
    snapshot[path] = path.endsWith("/") ? "folder" : sha256Digest(content);
  }
  return snapshot;
}

/**
 * Snapshots a folder on disk as a WebDAV client sees regdav's share:
 * symlinks are followed, and dangling ones are left out. The cases use only
 * relative links that stay inside `root`.
 */
async function snapshotFolder(root: string, prefix = ""): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = {};
  for (const name of await readdir(join(root, prefix))) {
    const path = `${prefix}${name}`;
    const stats = await stat(join(root, path)).catch(() => undefined);
    if (stats?.isDirectory()) {
      snapshot[`${path}/`] = "folder";
      Object.assign(snapshot, await snapshotFolder(root, `${path}/`));
    } else if (stats?.isFile()) {
      snapshot[path] = sha256Digest(await readFile(join(root, path)));
    }
  }
  return snapshot;
}

/** Snapshots a folder of regdav's share with PROPFIND and GET. */
async function snapshotShare(folderUrl: string): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = {};
  for (const path of await walkFolder(folderUrl)) {
    if (path.endsWith("/")) {
      snapshot[path] = "folder";
    } else {
      snapshot[path] = sha256Digest(await getBytes(folderUrl + encodePath(path)));
    }
  }
  return snapshot;
}

/**
 * Runs `tar -x <options>` as this process's user, with the tar on standard
 * input, and returns tar's error output. GNU tar goes on after a member
 * fails and then exits with status 2, so status 2 is accepted.
 */
async function extractWithGnuTar(tar: Buffer, options: string[], folder: string): Promise<string> {
  const program = await requireTool("tar");
  const result = spawnSync(program, ["-x", ...options, "-f", "-", "-C", folder], {
    input: tar,
    env: { ...process.env, LC_ALL: "C" },
    encoding: "buffer",
  });
  const stderr = result.stderr.toString("utf8");
  if (result.status !== 0 && result.status !== 2) {
    throw new Error(`tar -x ${options.join(" ")} failed with status ${result.status}: ${stderr}`);
  }
  return stderr;
}

/** Returns the member paths of a case that the share must not show. */
function pathsMissingFromShare(testCase: TarOrderCase): string[] {
  const shown = testCase.shown ?? testCase.extracted;
  const extracted = new Set(Object.keys(shown).map((path) => path.replace(/\/$/, "")));
  const members = new Set(testCase.entries.map((entry) => entry.path.replace(/\/$/, "")));
  return [...members].filter((path) => !extracted.has(path));
}

describe("layer applied in tar order", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  const prepared = new Map<string, { layer: LayerBlob; extraction: TempDir; tarStderr: string }>();

  const imageUrl = (testCase: TarOrderCase, path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/${testCase.repository}/_tags/v1/${path}`)}`;
  const layerFolderUrl = (testCase: TarOrderCase) => {
    const hex = prepared.get(testCase.title)!.layer.digest.slice("sha256:".length).slice(0, 12);
    return imageUrl(testCase, `layers/1-${hex}/`);
  };
  const rootfsUrl = (testCase: TarOrderCase) => imageUrl(testCase, "rootfs/");

  beforeAll(async () => {
    registry = await startRegistry();
    for (const testCase of cases) {
      const layer = await makeLayer(testCase.entries);
      const image = { layers: [layer], config: makeImageConfig({ layers: [layer] }) };
      await pushImage(registry.host, testCase.repository, "v1", { ...image, format: "oci" });

      const extraction = await makeTempDir("tar-order");
      const { uncompressed } = layer;
      const tarStderr = await extractWithGnuTar(uncompressed, testCase.tarOptions, extraction.path);
      prepared.set(testCase.title, { layer, extraction, tarStderr });
    }
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
    for (const { extraction } of prepared.values()) await extraction.remove();
  });

  for (const testCase of cases) {
    describe(testCase.title, () => {
      const extractedSnapshot = () => snapshotFolder(prepared.get(testCase.title)!.extraction.path);
      const expectedShare = async () =>
        testCase.shown ? snapshotOf(testCase.shown) : await extractedSnapshot();

      it("tar -x gives the expected tree", async () => {
        const { tarStderr } = prepared.get(testCase.title)!;
        expect(await extractedSnapshot()).toEqual(snapshotOf(testCase.extracted));
        if (testCase.tarError === undefined) {
          expect(tarStderr).toBe("");
        } else {
          expect(tarStderr).toContain(testCase.tarError);
        }
      });

      const against = testCase.shown ? "the tree it documents" : "what tar -x leaves";
      it(`layer folder shows ${against}`, async () => {
        expect(await snapshotShare(layerFolderUrl(testCase))).toEqual(await expectedShare());
      });

      it(`rootfs shows ${against}`, async () => {
        expect(await snapshotShare(rootfsUrl(testCase))).toEqual(await expectedShare());
      });

      const missingPaths = pathsMissingFromShare(testCase);
      if (missingPaths.length > 0) {
        it("paths left out are 404", async () => {
          for (const path of missingPaths) {
            const inLayer = await davRequest(layerFolderUrl(testCase) + encodePath(path));
            expect(inLayer.status, `layer folder ${path}`).toBe(404);
            const inRootfs = await davRequest(rootfsUrl(testCase) + encodePath(path));
            expect(inRootfs.status, `rootfs ${path}`).toBe(404);
          }
        });
      }
    });
  }
});
