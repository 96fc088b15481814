import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { makeIndex, makeJsonBlob, mediaTypes, type ImageBlob } from "../harness/image-builder.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { openOciLayout } from "../../src/source/layout-source.js";
import { buildTestImages, type TestImageSet } from "./local-images.js";
import { blobPath, layoutFiles, writeFolder, type StoredFile } from "./local-writers.js";

let dir: TempDir;
let images: TestImageSet;

beforeEach(async () => {
  dir = await makeTempDir("layout-source");
  images = await buildTestImages();
});

afterEach(async () => {
  await dir.remove();
});

function entry(
  blob: ImageBlob,
  annotations: Record<string, string> = {},
  mediaType = blob.mediaType,
): object {
  return { mediaType, digest: blob.digest, size: blob.size, annotations };
}

/** Writes the test images plus `extraBlobs`, with `entries` appended to index.json. */
async function writeLayout(entries: object[], extraBlobs: ImageBlob[] = []): Promise<string> {
  const folder = join(dir.path, "layout");
  const extra: StoredFile[] = extraBlobs.map((blob) => ({
    path: blobPath(blob.digest),
    content: blob.bytes,
  }));
  await writeFolder(folder, [...layoutFiles(images, entries), ...extra]);
  return folder;
}

const refName = (name: string) => ({ "org.opencontainers.image.ref.name": name });

describe("OciLayoutSource names", () => {
  it("puts bare tags in the default repository", async () => {
    const web = images.images[0]!.manifest;
    const source = await openOciLayout(
      "Work",
      await writeLayout([entry(web, refName("v1")), entry(web, refName("edge"))]),
    );
    expect(await source.listRepositories()).toContain("work");
    expect(await source.listTags("work")).toEqual(["edge", "v1"]);
    expect((await source.getManifest("work", "edge")).digest).toBe(web.digest);
  });

  it("prefers the containerd image name", async () => {
    const web = images.images[0]!.manifest;
    const annotations = {
      ...refName("latest"),
      "io.containerd.image.name": "docker.io/team/site:7",
    };
    const source = await openOciLayout("work", await writeLayout([entry(web, annotations)]));
    expect(await source.listTags("team/site")).toEqual(["7"]);
  });

  it("keeps the first duplicate tag", async () => {
    const [web, tool] = images.images.map((image) => image.manifest);
    const source = await openOciLayout(
      "work",
      await writeLayout([entry(web!, refName("dup")), entry(tool!, refName("dup"))]),
    );
    expect((await source.getManifest("work", "dup")).digest).toBe(web!.digest);
  });

  it("skips an invalid ref name", async () => {
    const tool = images.images[1]!.manifest;
    const source = await openOciLayout(
      "work",
      await writeLayout([entry(tool, refName("not a tag"))]),
    );
    expect(await source.listTags("work")).toEqual([]);
    expect((await source.getManifest("work", tool.digest)).digest).toBe(tool.digest);
  });
});

describe("OciLayoutSource media types", () => {
  it("falls back to the descriptor's type", async () => {
    const plain = makeJsonBlob(mediaTypes.ociManifest, {
      schemaVersion: 2,
      config: { digest: "sha256:" + "1".repeat(64), size: 1 },
      layers: [],
    });
    const source = await openOciLayout(
      "work",
      await writeLayout([entry(plain, refName("plain"), "application/x-example")], [plain]),
    );
    expect((await source.getManifest("work", "plain")).mediaType).toBe("application/x-example");
  });

  it("types a nested child by its parent", async () => {
    const child = makeJsonBlob(mediaTypes.dockerManifest, {
      schemaVersion: 2,
      config: { digest: "sha256:" + "2".repeat(64), size: 1 },
      layers: [],
    });
    const index = makeIndex({ manifests: [{ manifest: child }], format: "docker" });
    const source = await openOciLayout(
      "work",
      await writeLayout([entry(index, refName("multi"))], [child, index]),
    );
    expect((await source.getManifest("work", child.digest)).mediaType).toBe(
      mediaTypes.dockerManifest,
    );
    expect((await source.getManifest("work", "multi")).mediaType).toBe(
      mediaTypes.dockerManifestList,
    );
  });

  it("recognizes Docker schema 1 manifests", async () => {
    const unsigned = makeJsonBlob("", {
      schemaVersion: 1,
      name: "app",
      tag: "1",
      fsLayers: [],
      history: [],
    });
    const signed = makeJsonBlob("", {
      schemaVersion: 1,
      name: "app",
      tag: "2",
      fsLayers: [],
      history: [],
      signatures: [],
    });
    const entries = [
      entry(unsigned, refName("s1"), undefined),
      entry(signed, refName("s1-signed"), undefined),
    ];
    const source = await openOciLayout("work", await writeLayout(entries, [unsigned, signed]));
    expect((await source.getManifest("work", "s1")).mediaType).toBe(
      "application/vnd.docker.distribution.manifest.v1+json",
    );
    expect((await source.getManifest("work", "s1-signed")).mediaType).toBe(
      mediaTypes.schema1Signed,
    );
  });

  it("guesses an unreferenced manifest's type", async () => {
    const orphan = makeIndex({ manifests: [{ manifest: images.images[0]!.manifest }] });
    const untyped = makeJsonBlob(
      "",
      JSON.parse(
        orphan.bytes.toString("utf8").replace(`"mediaType":"${mediaTypes.ociIndex}",`, ""),
      ),
    );
    const source = await openOciLayout("work", await writeLayout([], [untyped]));
    expect((await source.getManifest("work", untyped.digest)).mediaType).toBe(mediaTypes.ociIndex);
  });
});

describe("OciLayoutSource opening", () => {
  it("names a missing oci-layout file", async () => {
    const folder = await writeLayout([]);
    await rm(join(folder, "oci-layout"));
    await expect(openOciLayout("work", folder)).rejects.toThrow(/oci-layout not found in/);
  });

  it("names an index.json that is not JSON", async () => {
    const folder = await writeLayout([]);
    await writeFile(join(folder, "index.json"), "{ not json");
    const attempt = openOciLayout("work", folder);
    await expect(attempt).rejects.toMatchObject({ code: "INVALID_MANIFEST" });
    await expect(attempt).rejects.toThrow(/index\.json in .* is not valid JSON/);
  });

  it("skips invalid index entries", async () => {
    const source = await openOciLayout(
      "work",
      await writeLayout([{ digest: "sha256:nothex" }, { size: 3 }]),
    );
    expect(await source.listTags("library/web")).toEqual(["1.0", "latest"]);
  });
});
