import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { makeTempDir, type TempDir } from "../harness/tools.js";
import { layerMediaTypeOf } from "../../src/source/docker-image-manifest.js";
import { ArchiveStorage } from "../../src/source/archive-storage.js";
import { DockerArchiveSource, openDockerArchive } from "../../src/source/docker-archive-source.js";
import { buildTestImages, type TestImageSet } from "./local-images.js";
import { readAll } from "./local-source-conformance.js";
import {
  dockerArchiveFiles,
  dockerOciManifestOf,
  writeTar,
  type StoredFile,
} from "./local-writers.js";

let dir: TempDir;
let images: TestImageSet;

beforeEach(async () => {
  dir = await makeTempDir("docker-archive");
  images = await buildTestImages();
});

afterEach(async () => {
  await dir.remove();
});

/** Writes a classic docker archive whose manifest.json is replaced by `entries` when given. */
async function writeArchive(
  edit?: (entries: Record<string, unknown>[]) => unknown,
): Promise<string> {
  const files = dockerArchiveFiles(images, "classic");
  const manifest = files[0]!;
  if (edit) {
    const entries = JSON.parse(manifest.content.toString("utf8")) as Record<string, unknown>[];
    files[0] = { path: manifest.path, content: Buffer.from(JSON.stringify(edit(entries))) };
  }
  const archive = join(dir.path, "docker.tar");
  await writeTar(archive, files);
  return archive;
}

describe("DockerArchiveSource", () => {
  it("maps RepoTags of other registries to folders", async () => {
    const archive = await writeArchive((entries) => {
      entries[0]!.RepoTags = ["localhost:5000/team/app:1", "quay.io/org/app:2", "plain"];
      return entries;
    });
    const source = await openDockerArchive("saved", archive);
    expect(await source.listRepositories()).toEqual([
      "ghcr.io/team/tool",
      "library/plain",
      "localhost_5000/team/app",
      "quay.io/org/app",
      "saved",
    ]);
    expect(await source.listTags("localhost_5000/team/app")).toEqual(["1"]);
    expect(await source.listTags("library/plain")).toEqual(["latest"]);
  });

  it("skips an invalid RepoTags entry", async () => {
    const archive = await writeArchive((entries) => {
      entries[0]!.RepoTags = ["Not Valid", "web:ok"];
      return entries;
    });
    const source = await openDockerArchive("saved", archive);
    expect(await source.listTags("library/web")).toEqual(["ok"]);
    expect(await source.listRepositories()).toEqual(["ghcr.io/team/tool", "library/web", "saved"]);
  });

  it("lists an image with only invalid names as untagged", async () => {
    const archive = await writeArchive((entries) => [{ ...entries[0]!, RepoTags: ["Not Valid"] }]);
    const source = await openDockerArchive("saved", archive);
    expect(await source.listRepositories()).toEqual(["saved"]);
    expect(await source.listTags("saved")).toEqual([]);
  });

  it("skips an invalid manifest.json entry", async () => {
    const archive = await writeArchive((entries) => [{ Config: 7, Layers: [] }, ...entries]);
    const source = await openDockerArchive("saved", archive);
    expect(await source.listTags("ghcr.io/team/tool")).toEqual(["2"]);
    expect((await source.getManifest("ghcr.io/team/tool", "2")).bytes.length).toBeGreaterThan(0);
  });

  it("rejects a non-array manifest.json", async () => {
    const archive = await writeArchive(() => ({ Config: "x.json" }));
    const attempt = openDockerArchive("saved", archive);
    await expect(attempt).rejects.toMatchObject({ code: "INVALID_MANIFEST" });
    await expect(attempt).rejects.toThrow(/manifest\.json in .* is not a JSON array/);
  });

  it("serves stored OCI manifests by digest", async () => {
    const files: StoredFile[] = dockerArchiveFiles(images, "oci-blobs");
    const archive = join(dir.path, "docker25.tar");
    await writeTar(archive, files);
    const source = await openDockerArchive("saved", archive);

    const original = dockerOciManifestOf(images.images[0]!);
    const manifest = await source.getManifest("library/web", original.digest);
    expect(manifest.bytes).toEqual(original.bytes);
    expect(manifest.mediaType).toBe(original.mediaType);
    expect((await source.getManifest("library/web", "1.0")).mediaType).toBe(
      "application/vnd.docker.distribution.manifest.v2+json",
    );
  });

  it("shares one concurrent manifest build", async () => {
    const storage = await ArchiveStorage.open(await writeArchive());
    const configPath = `${images.images[0]!.config.digest.slice(7)}.json`;
    let configReads = 0;
    const counting = Object.create(storage) as ArchiveStorage;
    counting.readFile = (path, maxBytes) => {
      if (path === configPath) configReads += 1;
      return storage.readFile(path, maxBytes);
    };
    const source = await DockerArchiveSource.fromStorage("saved", counting);

    const manifests = await Promise.all(
      [1, 2, 3].map(() => source.getManifest("library/web", "1.0")),
    );
    expect(configReads).toBe(1);
    expect(new Set(manifests.map((manifest) => manifest.digest)).size).toBe(1);
    const body = JSON.parse(manifests[0]!.bytes.toString("utf8")) as {
      layers: { digest: string }[];
    };
    const layer = await readAll(await source.openBlob("library/web", body.layers[0]!));
    expect(layer).toEqual(images.images[0]!.layers[0]!.uncompressed);
  });
});

describe("layerMediaTypeOf", () => {
  it.each([
    ["gzip", Buffer.from([0x1f, 0x8b, 8, 0]), "application/vnd.docker.image.rootfs.diff.tar.gzip"],
    [
      "zstd",
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]),
      "application/vnd.docker.image.rootfs.diff.tar.zstd",
    ],
    ["tar", Buffer.from("etc/passwd\0"), "application/vnd.docker.image.rootfs.diff.tar"],
    ["empty", Buffer.alloc(0), "application/vnd.docker.image.rootfs.diff.tar"],
  ])("detects %s", (_name, head, mediaType) => {
    expect(layerMediaTypeOf(head)).toBe(mediaType);
  });
});
