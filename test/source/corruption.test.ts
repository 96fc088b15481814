import { readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { makeTempDir, type TempDir } from "../harness/tools.js";
import { scanTar } from "../../src/source/archive-tar-scan.js";
import { openLocalSource } from "../../src/source/open-local-source.js";
import { copyFixture, fixtureBlob, type ManifestBody } from "./regclient-fixture.js";
import { buildTestImages, testSourceName, type TestImageSet } from "./local-images.js";
import { readAll, type LocalSource } from "./local-source-conformance.js";
import {
  blobPath,
  dockerArchiveFiles,
  expectedDockerManifestDigest,
  layoutFiles,
  storedLayerOf,
  writeFolder,
  writeTar,
  type StoredFile,
} from "./local-writers.js";

let dir: TempDir;
let images: TestImageSet;

beforeEach(async () => {
  dir = await makeTempDir("corruption");
  images = await buildTestImages();
});

afterEach(async () => {
  await dir.remove();
});

const web = () => images.images[0]!;
const tool = () => images.images[1]!;
const untagged = () => images.images[2]!;

function flipByte(bytes: Buffer, position = Math.floor(bytes.length / 2)): Buffer {
  const copy = Buffer.from(bytes);
  copy[position] = copy[position]! ^ 0xff;
  return copy;
}

async function open(path: string): Promise<LocalSource> {
  return (await openLocalSource(testSourceName, path)) as LocalSource;
}

async function writeLayout(files = layoutFiles(images)): Promise<string> {
  const folder = join(dir.path, "layout");
  await writeFolder(folder, files);
  return folder;
}

/** Writes a tar and cuts it `keep` bytes into the content of `member`. */
async function writeTruncatedTar(
  files: StoredFile[],
  member: string,
  keep: number,
): Promise<string> {
  const archive = join(dir.path, "truncated.tar");
  await writeTar(archive, files);
  const offset = (await scanTar(archive)).members.get(member)!.offset;
  await truncate(archive, offset + keep);
  return archive;
}

describe("corrupt OCI layout folder", () => {
  it("fails only the changed blob", async () => {
    const folder = await writeLayout();
    const [damaged, intact] = web().layers;
    const path = join(folder, blobPath(damaged!.digest));
    await writeFile(path, flipByte(await readFile(path)));
    const source = await open(folder);

    await expect(readAll(await source.openBlob("library/web", damaged!))).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
    });
    expect(await readAll(await source.openBlob("library/web", intact!))).toEqual(intact!.bytes);
    expect(await readAll(await source.openBlob("library/web", web().config))).toEqual(
      web().config.bytes,
    );
    expect((await source.getManifest("library/web", "1.0")).digest).toBe(web().manifest.digest);
  });

  it("fails only the changed manifest", async () => {
    const folder = await writeLayout();
    const path = join(folder, blobPath(web().manifest.digest));
    await writeFile(path, flipByte(await readFile(path), 5));
    const source = await open(folder);

    const attempt = source.getManifest("library/web", "1.0");
    await expect(attempt).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    await expect(attempt).rejects.toThrow(web().manifest.digest);
    expect((await source.getManifest("ghcr.io/team/tool", "2")).digest).toBe(
      tool().manifest.digest,
    );
  });

  it("rejects a tag on a non-manifest blob", async () => {
    const layer = web().layers[0]!;
    const entry = {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: layer.digest,
      size: layer.size,
      annotations: { "org.opencontainers.image.ref.name": "broken" },
    };
    const source = await open(await writeLayout(layoutFiles(images, [entry])));

    const attempt = source.getManifest(testSourceName, "broken");
    await expect(attempt).rejects.toMatchObject({ code: "INVALID_MANIFEST" });
    await expect(attempt).rejects.toThrow(layer.digest);
    await expect(source.getManifest(testSourceName, web().layers[1]!.digest)).rejects.toMatchObject(
      { code: "NOT_FOUND" },
    );
    expect((await source.getManifest("library/web", "1.0")).digest).toBe(web().manifest.digest);
  });

  it("names the path of a missing blob", async () => {
    const folder = await writeLayout();
    const layer = web().layers[0]!;
    await rm(join(folder, blobPath(layer.digest)));
    const source = await open(folder);

    const attempt = source.openBlob("library/web", layer);
    await expect(attempt).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(attempt).rejects.toThrow(blobPath(layer.digest));
  });

  it("rejects a blob linked outside", async () => {
    const folder = await writeLayout();
    const layer = web().layers[0]!;
    const outside = join(dir.path, "outside");
    await writeFile(outside, layer.bytes);
    await rm(join(folder, blobPath(layer.digest)));
    await symlink(outside, join(folder, blobPath(layer.digest)));
    const source = await open(folder);

    await expect(source.openBlob("library/web", layer)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await readAll(await source.openBlob("library/web", web().layers[1]!))).toEqual(
      web().layers[1]!.bytes,
    );
  });
});

describe("corrupt copy of the regclient fixture", () => {
  it("fails only the changed layer", async () => {
    const copy = await copyFixture(dir.path);
    // The linux/amd64 image of tag v1, which has two layers.
    const manifestDigest =
      "sha256:1effc9d48232693f4584ceb9c5e8d84ddeb5924ea4aff341aa8204510422f668";
    const body = JSON.parse((await fixtureBlob(manifestDigest)).toString("utf8")) as ManifestBody;
    const [damaged, intact] = body.layers!;
    const path = join(copy, blobPath(damaged!.digest));
    await writeFile(path, flipByte(await readFile(path)));
    const source = await openLocalSource("testrepo", copy);

    await expect(readAll(await source.openBlob("testrepo", damaged!))).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
    });
    expect(await readAll(await source.openBlob("testrepo", intact!))).toEqual(
      await fixtureBlob(intact!.digest),
    );
    expect((await source.getManifest("testrepo", manifestDigest)).digest).toBe(manifestDigest);
  });
});

describe("truncated OCI archive", () => {
  it("names the truncated member", async () => {
    const layer = tool().layers[0]!;
    const archive = await writeTruncatedTar(layoutFiles(images), blobPath(layer.digest), 10);
    const source = await open(archive);

    const attempt = source.openBlob("ghcr.io/team/tool", layer);
    await expect(attempt).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
    await expect(attempt).rejects.toThrow(`member ${blobPath(layer.digest)}`);
    expect((await source.getManifest("library/web", "latest")).digest).toBe(web().manifest.digest);
    for (const blob of [web().config, ...web().layers]) {
      expect(await readAll(await source.openBlob("library/web", blob))).toEqual(blob.bytes);
    }
  });

  it("reports later members as missing", async () => {
    const archive = await writeTruncatedTar(
      layoutFiles(images),
      blobPath(tool().layers[0]!.digest),
      10,
    );
    const source = await open(archive);

    const attempt = source.getManifest(testSourceName, untagged().manifest.digest);
    await expect(attempt).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(attempt).rejects.toThrow(/ends inside member blobs\/sha512\//);
  });

  it("serves members before a cut header", async () => {
    const archive = join(dir.path, "cut-header.tar");
    await writeTar(archive, layoutFiles(images));
    const member = (await scanTar(archive)).members.get(blobPath(untagged().manifest.digest))!;
    await truncate(archive, member.offset - 200);
    const source = await open(archive);

    expect((await source.getManifest("ghcr.io/team/tool", "2")).digest).toBe(
      tool().manifest.digest,
    );
    await expect(
      source.getManifest(testSourceName, untagged().manifest.digest),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("corrupt docker archive", () => {
  const webLayerPath = (files: StoredFile[], position: number) =>
    files.find((file) =>
      file.content.equals(storedLayerOf("classic", web().layers[position]!).bytes),
    )!.path;

  it("names a truncated layer member", async () => {
    const files = dockerArchiveFiles(images, "classic");
    const toolLayer = files.find((file) =>
      file.content.equals(storedLayerOf("classic", tool().layers[0]!).bytes),
    )!;
    const source = await open(await writeTruncatedTar(files, toolLayer.path, 100));

    const attempt = source.getManifest("ghcr.io/team/tool", "2");
    await expect(attempt).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
    await expect(attempt).rejects.toThrow(`member ${toolLayer.path}`);
    const manifest = await source.getManifest("library/web", "1.0");
    expect(manifest.digest).toBe(expectedDockerManifestDigest(web(), "classic"));
    const body = JSON.parse(manifest.bytes.toString("utf8")) as {
      layers: { digest: string; size: number }[];
    };
    for (const layer of body.layers) await readAll(await source.openBlob("library/web", layer));
  });

  it("fails only the changed layer", async () => {
    const files = dockerArchiveFiles(images, "classic");
    const damagedPath = webLayerPath(files, 0);
    const damaged = files.map((file) =>
      file.path === damagedPath ? { ...file, content: flipByte(file.content, 600) } : file,
    );
    const archive = join(dir.path, "damaged.tar");
    await writeTar(archive, damaged);
    const source = await open(archive);

    const manifest = await source.getManifest("library/web", "1.0");
    const body = JSON.parse(manifest.bytes.toString("utf8")) as {
      layers: { digest: string; size: number }[];
    };
    await expect(
      readAll(await source.openBlob("library/web", body.layers[0]!)),
    ).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    expect(await readAll(await source.openBlob("library/web", body.layers[1]!))).toEqual(
      web().layers[1]!.uncompressed,
    );
  });

  it("rejects a config not matching its name", async () => {
    const files = dockerArchiveFiles(images, "classic");
    const configPath = `${web().config.digest.slice(7)}.json`;
    const damaged = files.map((file) =>
      file.path === configPath ? { ...file, content: flipByte(file.content, 3) } : file,
    );
    const archive = join(dir.path, "bad-config.tar");
    await writeTar(archive, damaged);
    const source = await open(archive);

    const attempt = source.getManifest("library/web", "latest");
    await expect(attempt).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    await expect(attempt).rejects.toThrow(configPath);
    expect((await source.getManifest("ghcr.io/team/tool", "2")).digest).toBe(
      expectedDockerManifestDigest(tool(), "classic"),
    );
  });
});
