import { randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  layerMediaType,
  makeBlob,
  makeImageConfig,
  sha256Digest,
  type LayerBlob,
} from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { encodePath, getBytes, statEntry } from "./dav-client.js";

const MiB = 1024 * 1024;

/** The sparse formats of GNU tar 1.34: the old GNU header, and the three PAX versions. */
const formats: Record<string, string[]> = {
  gnu: ["--format=gnu"],
  "pax-0.0": ["--format=posix", "--sparse-version=0.0"],
  "pax-0.1": ["--format=posix", "--sparse-version=0.1"],
  "pax-1.0": ["--format=posix", "--sparse-version=1.0"],
};

/**
 * Writes files with holes: one data run in the middle, 30 runs (more than
 * the 4 entries an old GNU header has room for, so extension blocks
 * follow), a file that is all hole, and a plain file.
 */
async function writeSparseFiles(folder: string): Promise<Map<string, Buffer>> {
  const middle = Buffer.alloc(4 * MiB);
  Buffer.from("data-in-the-middle").copy(middle, 2_000_000);
  const runs = Buffer.alloc(12 * MiB);
  for (let run = 0; run < 30; run++)
    randomBytes(3000 + run).copy(runs, run * 400 * 1024 + 17 * run);
  runs.write("tail", runs.length - 4);
  const files = new Map([
    ["middle.bin", middle],
    ["runs.bin", runs],
    ["hole.bin", Buffer.alloc(3 * MiB)],
    ["plain.txt", Buffer.from("not sparse\n")],
  ]);
  for (const [name, bytes] of files) {
    // Writing only the non-zero 4 KiB pages leaves the rest as holes, which tar --sparse finds.
    const handle = await open(join(folder, name), "w");
    await handle.truncate(bytes.length);
    for (let page = 0; page < bytes.length; page += 4096) {
      const slice = bytes.subarray(page, page + 4096);
      if (slice.some((byte) => byte !== 0)) await handle.write(slice, 0, slice.length, page);
    }
    await handle.close();
  }
  return files;
}

describe("sparse files written by GNU tar", () => {
  let work: TempDir;
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let files: Map<string, Buffer>;
  const tars = new Map<string, Buffer>();

  const fileUrl = (tag: string, name: string) =>
    `${regdav.url}${encodePath(`${registry.host}/sparse/files/_tags/${tag}/rootfs/${name}`)}`;

  beforeAll(async () => {
    const tar = await requireTool("tar");
    work = await makeTempDir("sparse-files");
    const source = join(work.path, "files");
    await mkdir(source);
    files = await writeSparseFiles(source);

    registry = await startRegistry();
    for (const [tag, options] of Object.entries(formats)) {
      const tarPath = join(work.path, `${tag}.tar`);
      await runCommand(tar, [
        "-C",
        source,
        "--sparse",
        ...options,
        "-cf",
        tarPath,
        ...files.keys(),
      ]);
      const uncompressed = await readFile(tarPath);
      tars.set(tag, uncompressed);
      const layer: LayerBlob = {
        ...makeBlob(layerMediaType("oci", "gzip"), gzipSync(uncompressed)),
        diffId: sha256Digest(uncompressed),
        uncompressed,
        entries: [],
      };
      const config = makeImageConfig({ layers: [layer], format: "oci" });
      await pushImage(registry.host, "sparse/files", tag, {
        layers: [layer],
        config,
        format: "oci",
      });
    }
    regdav = await startRegdav(["--registry", registry.host]);
  }, 120_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
    await work?.remove();
  });

  it("tar stored holes, not zeros", () => {
    const total = [...files.values()].reduce((sum, bytes) => sum + bytes.length, 0);
    for (const [tag, uncompressed] of tars) {
      // If tar stored the zeros, these tests would not cover a sparse map.
      expect(uncompressed.length, tag).toBeLessThan(total / 10);
    }
  });

  for (const tag of Object.keys(formats)) {
    it(`${tag}: files read whole`, async () => {
      for (const [name, bytes] of files) {
        const body = await getBytes(fileUrl(tag, name));
        expect(body.length, name).toBe(bytes.length);
        expect(sha256Digest(body), name).toBe(sha256Digest(bytes));
      }
    });

    it(`${tag}: sizes in listings`, async () => {
      for (const [name, bytes] of files) {
        expect((await statEntry(fileUrl(tag, name))).size, name).toBe(bytes.length);
      }
    });

    it(`${tag}: ranges across holes`, async () => {
      const runs = files.get("runs.bin")!;
      const middle = files.get("middle.bin")!;
      const ranges: [string, Buffer, number, number][] = [
        ["middle.bin", middle, 1_999_990, 2_000_030],
        ["middle.bin", middle, 0, 99],
        ["middle.bin", middle, middle.length - 10, middle.length - 1],
        ["runs.bin", runs, 400 * 1024 - 100, 2 * 400 * 1024 + 5000],
        ["runs.bin", runs, runs.length - 4, runs.length - 1],
        ["hole.bin", files.get("hole.bin")!, MiB, 2 * MiB],
      ];
      for (const [name, bytes, start, end] of ranges) {
        const body = await getBytes(fileUrl(tag, name), { range: `bytes=${start}-${end}` });
        expect(body.equals(bytes.subarray(start, end + 1)), `${name} ${start}-${end}`).toBe(true);
      }
    });
  }
});
