import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { ArchiveStorage } from "../../src/source/archive-storage.js";
import { openLocalSource } from "../../src/source/open-local-source.js";
import { hashOf, readAll, type LocalSource } from "./local-source-conformance.js";
import {
  copyFixture,
  fixture,
  fixtureBlob,
  fixtureIndex,
  refNameKey,
  type Descriptor,
  type ManifestBody,
} from "./regclient-fixture.js";

let dir: TempDir;
let layoutCopy: string;

beforeAll(async () => {
  dir = await makeTempDir("regclient-fixture");
  layoutCopy = await copyFixture(dir.path);
});

afterAll(async () => {
  await dir.remove();
});

const kinds = [
  { label: "layout folder", open: () => openLocalSource("testrepo", fixture) },
  {
    label: "OCI archive made by tar -cf",
    open: async () => {
      const archive = join(dir.path, "testrepo.tar");
      await runCommand(await requireTool("tar"), ["-cf", archive, "-C", layoutCopy, "."]);
      return openLocalSource("testrepo", archive);
    },
  },
];

describe.each(kinds)("regclient fixture as $label", ({ open }) => {
  let source: LocalSource;

  beforeAll(async () => {
    source = (await open()) as LocalSource;
  });

  it("lists every tag of index.json", async () => {
    const names = (await fixtureIndex()).flatMap((entry) => entry.annotations?.[refNameKey] ?? []);
    expect(await source.listRepositories()).toEqual(["testrepo"]);
    expect(await source.listTags("testrepo")).toEqual([...new Set(names)].sort());
  });

  it("resolves every tag to its descriptor's manifest", async () => {
    for (const entry of await fixtureIndex()) {
      const tag = entry.annotations?.[refNameKey];
      if (tag === undefined) continue;
      const manifest = await source.getManifest("testrepo", tag);
      expect(manifest.digest, tag).toBe(entry.digest);
      expect(manifest.bytes, tag).toEqual(await fixtureBlob(entry.digest));
    }
  });

  it("resolves every nested manifest", async () => {
    const queue = [...(await fixtureIndex())];
    const seen = new Set<string>();
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);

      const manifest = await source.getManifest("testrepo", entry.digest);
      expect(manifest.digest).toBe(entry.digest);
      expect(hashOf(entry.digest, manifest.bytes)).toBe(entry.digest);
      expect(manifest.mediaType, entry.digest).toBe(entry.mediaType);
      queue.push(
        ...((JSON.parse(manifest.bytes.toString("utf8")) as ManifestBody).manifests ?? []),
      );
    }
    expect(seen.size).toBeGreaterThan((await fixtureIndex()).length / 2);
  });

  it("streams every config and layer", async () => {
    const queue = [...(await fixtureIndex())];
    const seen = new Set<string>();
    let blobs = 0;
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);
      const body = JSON.parse(
        (await source.getManifest("testrepo", entry.digest)).bytes.toString("utf8"),
      ) as ManifestBody;
      queue.push(...(body.manifests ?? []));
      for (const blob of body.config ? [body.config, ...(body.layers ?? [])] : []) {
        const bytes = await readAll(await source.openBlob("testrepo", blob));
        expect(hashOf(blob.digest, bytes)).toBe(blob.digest);
        blobs += 1;
      }
    }
    expect(blobs).toBeGreaterThan(0);
  });
});

describe("regclient fixture as a skopeo docker archive", () => {
  let archive: string;
  let source: LocalSource;

  beforeAll(async () => {
    archive = join(dir.path, "skopeo-docker.tar");
    const platform = ["--override-os", "linux", "--override-arch", "amd64"];
    await runSkopeo(platform, "copy", [
      `oci:${layoutCopy}:v1`,
      `docker-archive:${archive}:example.com/team/app:v1`,
    ]);
    source = (await openLocalSource("skopeo", archive)) as LocalSource;
  });

  /** Reads the fixture's linux/amd64 image manifest of tag v1. */
  async function amd64Manifest(): Promise<ManifestBody> {
    const index = JSON.parse(
      (
        await fixtureBlob(
          (await fixtureIndex()).find((entry) => entry.annotations?.[refNameKey] === "v1")!.digest,
        )
      ).toString("utf8"),
    ) as {
      manifests: (Descriptor & { platform?: { architecture: string } })[];
    };
    const entry = index.manifests.find(
      (candidate) => candidate.platform?.architecture === "amd64",
    )!;
    return JSON.parse((await fixtureBlob(entry.digest)).toString("utf8")) as ManifestBody;
  }

  it("lists the tag skopeo wrote", async () => {
    expect(await source.listRepositories()).toEqual(["example.com/team/app"]);
    expect(await source.listTags("example.com/team/app")).toEqual(["v1"]);
  });

  it("serves the config and uncompressed layers", async () => {
    const expected = await amd64Manifest();
    const manifest = await source.getManifest("example.com/team/app", "v1");
    const body = JSON.parse(manifest.bytes.toString("utf8")) as ManifestBody;
    expect(manifest.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(body.config!.digest).toBe(expected.config!.digest);

    const config = await readAll(await source.openBlob("example.com/team/app", body.config!));
    expect(config).toEqual(await fixtureBlob(expected.config!.digest));
    expect(body.layers).toHaveLength(expected.layers!.length);
    for (const [position, layer] of body.layers!.entries()) {
      const bytes = await readAll(await source.openBlob("example.com/team/app", layer));
      expect(layer.mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar");
      expect(hashOf(layer.digest, bytes)).toBe(layer.digest);
      expect(bytes).toEqual(gunzipSync(await fixtureBlob(expected.layers![position]!.digest)));
    }
  });

  it("follows the layer.tar links skopeo writes", async () => {
    const storage = await ArchiveStorage.open(archive);
    const links = storage.topLevelNames().filter((name) => /^[a-f0-9]{64}$/.test(name));
    expect(links.length).toBeGreaterThan(0);
    for (const folder of links) {
      const bytes = await storage.readFile(`${folder}/layer.tar`, 1024 * 1024);
      expect(bytes.length).toBe(await storage.sizeOf(`${folder}/layer.tar`));
      expect(bytes.length).toBeGreaterThan(0);
    }
  });
});
