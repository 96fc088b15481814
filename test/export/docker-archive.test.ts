import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";

import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";

import { bytesPart } from "../../src/export/concatenated-content.js";
import {
  buildDockerArchive,
  splitRepoTag,
  type ArchiveImage,
} from "../../src/export/docker-archive.js";
import { makeLayerTar, sha256Digest } from "../harness/image-builder.js";

/** Reads every member of an archive with tar-stream, by name. */
async function readMembers(archive: Buffer): Promise<Map<string, Buffer>> {
  const members = new Map<string, Buffer>();
  const reader = extract();
  reader.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk) => chunks.push(chunk as Buffer));
    stream.on("end", () => {
      members.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  Readable.from([archive]).pipe(reader);
  await done;
  return members;
}

async function makeImage(repoTags: string[]): Promise<ArchiveImage> {
  const base = await makeLayerTar([{ type: "file", path: "a.txt", content: "a\n" }]);
  const top = await makeLayerTar([{ type: "file", path: "b.txt", content: "b".repeat(700) }]);
  const config = Buffer.from(JSON.stringify({ rootfs: { diff_ids: [sha256Digest(base)] } }));
  return {
    config: { digest: sha256Digest(config), content: bytesPart(config) },
    layers: [
      { digest: sha256Digest(base), content: bytesPart(base) },
      { digest: sha256Digest(top), content: bytesPart(top) },
      { digest: sha256Digest(base), content: bytesPart(base) },
    ],
    repoTags,
  };
}

describe("buildDockerArchive", () => {
  it("writes manifest.json naming the blobs", async () => {
    const image = await makeImage(["127.0.0.1:5000/team/app:v1"]);
    const archive = buildDockerArchive(image);
    const members = await readMembers(await buffer(archive.content.open()));
    const manifest = JSON.parse(members.get("manifest.json")!.toString());

    expect(manifest).toEqual([
      {
        Config: `blobs/sha256/${image.config.digest.slice(7)}`,
        RepoTags: ["127.0.0.1:5000/team/app:v1"],
        Layers: image.layers.map((layer) => `blobs/sha256/${layer.digest.slice(7)}`),
      },
    ]);
    expect(members.get("manifest.json")!.equals(archive.manifestJson)).toBe(true);
  });

  it("stores each distinct blob once", async () => {
    const image = await makeImage([]);
    const members = await readMembers(await buffer(buildDockerArchive(image).content.open()));
    const blobs = [...members.keys()].filter((name) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(name));

    expect(blobs).toHaveLength(3);
    for (const name of blobs) {
      expect(sha256Digest(members.get(name)!), name).toBe(`sha256:${name.slice(13)}`);
    }
  });

  it("lists members in a fixed order", async () => {
    const image = await makeImage(["host/app:v1"]);
    const members = await readMembers(await buffer(buildDockerArchive(image).content.open()));
    const names = [...members.keys()];

    expect(names.slice(0, 4)).toEqual(["manifest.json", "repositories", "blobs/", "blobs/sha256/"]);
    expect(names[4]).toBe(`blobs/sha256/${image.config.digest.slice(7)}`);
  });

  it("writes repositories with the top layer", async () => {
    const image = await makeImage(["host:5000/app:v1", "host:5000/app:latest"]);
    const members = await readMembers(await buffer(buildDockerArchive(image).content.open()));
    const top = image.layers.at(-1)!.digest.slice(7);
    expect(JSON.parse(members.get("repositories")!.toString())).toEqual({
      "host:5000/app": { v1: top, latest: top },
    });
  });

  it("untagged image has null RepoTags and no repositories", async () => {
    const archive = buildDockerArchive(await makeImage([]));
    const members = await readMembers(await buffer(archive.content.open()));
    expect(JSON.parse(archive.manifestJson.toString())[0].RepoTags).toBeNull();
    expect(members.has("repositories")).toBe(false);
  });

  it("builds the same bytes twice", async () => {
    const image = await makeImage(["host/app:v1"]);
    const first = await buffer(buildDockerArchive(image).content.open());
    const second = await buffer(buildDockerArchive(image).content.open());
    expect(first.equals(second)).toBe(true);
  });

  it("ends with two zero blocks", async () => {
    const bytes = await buffer(buildDockerArchive(await makeImage([])).content.open());
    expect(bytes.length % 512).toBe(0);
    expect(bytes.subarray(-1024).every((byte) => byte === 0)).toBe(true);
  });
});

describe("splitRepoTag", () => {
  it.each([
    ["127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app", "v1"],
    ["docker.io/library/alpine:3.19", "docker.io/library/alpine", "3.19"],
    ["app:latest", "app", "latest"],
  ])("splits %s", (repoTag, repository, tag) => {
    expect(splitRepoTag(repoTag)).toEqual({ repository, tag });
  });

  it("rejects a name without a tag", () => {
    expect(() => splitRepoTag("127.0.0.1:5000/app")).toThrow(RangeError);
  });
});
