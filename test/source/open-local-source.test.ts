import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { makeLayerTar } from "../harness/image-builder.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { DockerArchiveSource } from "../../src/source/docker-archive-source.js";
import { OciLayoutSource } from "../../src/source/layout-source.js";
import { openLocalSource } from "../../src/source/open-local-source.js";
import { buildTestImages, type TestImageSet } from "./local-images.js";
import { dockerArchiveFiles, layoutFiles, writeFolder, writeTar } from "./local-writers.js";

let dir: TempDir;
let images: TestImageSet;

beforeEach(async () => {
  dir = await makeTempDir("open-local");
  images = await buildTestImages();
});

afterEach(async () => {
  await dir.remove();
});

describe("openLocalSource detection", () => {
  it("opens a layout folder as an OCI layout", async () => {
    const folder = join(dir.path, "layout");
    await writeFolder(folder, layoutFiles(images));
    expect(await openLocalSource("work", folder)).toBeInstanceOf(OciLayoutSource);
  });

  it("opens a tar with oci-layout as an OCI archive", async () => {
    const archive = join(dir.path, "oci.tar");
    await writeTar(archive, layoutFiles(images));
    expect(await openLocalSource("work", archive)).toBeInstanceOf(OciLayoutSource);
  });

  it("prefers manifest.json in a tar that has both", async () => {
    const archive = join(dir.path, "docker25.tar");
    await writeTar(archive, dockerArchiveFiles(images, "oci-blobs"));
    expect(await openLocalSource("work", archive)).toBeInstanceOf(DockerArchiveSource);
  });

  it("resolves a path with .. parts", async () => {
    const folder = join(dir.path, "layout");
    await writeFolder(folder, layoutFiles(images));
    const source = await openLocalSource("work", join(folder, "..", "layout"));
    expect(await source.listTags("library/web")).toEqual(["1.0", "latest"]);
  });
});

describe("openLocalSource errors", () => {
  it("names a missing path", async () => {
    const path = join(dir.path, "absent.tar");
    const attempt = openLocalSource("work", path);
    await expect(attempt).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(attempt).rejects.toThrow(
      `${path} is not an OCI image layout, OCI archive or docker save archive: no such file or folder`,
    );
  });

  it("names what a folder lacks", async () => {
    const folder = join(dir.path, "empty");
    await mkdir(folder);
    await expect(openLocalSource("work", folder)).rejects.toThrow(
      /neither oci-layout .* nor manifest\.json/,
    );
  });

  it("lists what a tar of something else contains", async () => {
    const archive = join(dir.path, "other.tar");
    await writeFile(
      archive,
      await makeLayerTar([
        { type: "file", path: "etc/hostname", content: "box\n" },
        { type: "file", path: "README", content: "" },
      ]),
    );
    const attempt = openLocalSource("work", archive);
    await expect(attempt).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(attempt).rejects.toThrow(/it contains README, etc$/);
  });

  it("asks to decompress a gzip-compressed docker save", async () => {
    const archive = join(dir.path, "image.tar.gz");
    const plain = join(dir.path, "image.tar");
    await writeTar(plain, dockerArchiveFiles(images, "classic"));
    await writeFile(archive, gzipSync(await readFile(plain)));
    await expect(openLocalSource("work", archive)).rejects.toThrow(/gzip-compressed/);
  });

  it("rejects a source name that reads as a registry", async () => {
    const folder = join(dir.path, "layout");
    await writeFolder(folder, layoutFiles(images));
    await expect(openLocalSource("example.com", folder)).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});
