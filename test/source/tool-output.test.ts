import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { openLocalSource } from "../../src/source/open-local-source.js";
import { hashOf, readAll } from "./local-source-conformance.js";
import { copyFixture, fixtureIndex, refNameKey, type ManifestBody } from "./regclient-fixture.js";

let dir: TempDir;

beforeAll(async () => {
  dir = await makeTempDir("tool-output");
});

afterAll(async () => {
  await dir.remove();
});

describe("umoci layout", () => {
  let layout: string;

  beforeAll(async () => {
    const umoci = await requireTool("umoci");
    layout = join(dir.path, "umoci");
    const file = join(dir.path, "motd");
    await writeFile(file, "hello from umoci\n");
    await runCommand(umoci, ["init", "--layout", layout]);
    await runCommand(umoci, ["new", "--image", `${layout}:base`]);
    await runCommand(umoci, [
      "insert",
      "--image",
      `${layout}:base`,
      "--tag",
      "with-motd",
      file,
      "/etc/motd",
    ]);
  });

  it("lists the tags umoci wrote", async () => {
    const source = await openLocalSource("umoci", layout);
    expect(await source.listRepositories()).toEqual(["umoci"]);
    expect(await source.listTags("umoci")).toEqual(["base", "with-motd"]);
  });

  it("serves the layer umoci added", async () => {
    const source = await openLocalSource("umoci", layout);
    const manifest = await source.getManifest("umoci", "with-motd");
    const body = JSON.parse(manifest.bytes.toString("utf8")) as ManifestBody;
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(body.layers).toHaveLength(1);

    const layer = await readAll(await source.openBlob("umoci", body.layers![0]!));
    expect(hashOf(body.layers![0]!.digest, layer)).toBe(body.layers![0]!.digest);
    expect(gunzipSync(layer).toString("latin1")).toContain("hello from umoci");
  });
});

describe("skopeo OCI archive", () => {
  it("serves the fixture tag skopeo copied", async () => {
    const layout = await copyFixture(dir.path);
    const archive = join(dir.path, "skopeo-oci.tar");
    await runSkopeo([], "copy", [`oci:${layout}:a1`, `oci-archive:${archive}:copied`]);
    const source = await openLocalSource("skopeo", archive);

    const original = (await fixtureIndex()).find(
      (entry) => entry.annotations?.[refNameKey] === "a1",
    )!;
    expect(await source.listTags("skopeo")).toEqual(["copied"]);
    expect((await source.getManifest("skopeo", "copied")).digest).toBe(original.digest);
  });
});
