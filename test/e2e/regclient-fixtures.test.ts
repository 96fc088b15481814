import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { sha256Digest } from "../harness/image-builder.js";
import {
  pushRegclientFixtures,
  regclientLayoutDir,
  regclientRepository,
} from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, encodePath, getBytes, listEntries, listNames } from "./dav-client.js";
import { imageSubfolders } from "./folder-names.js";

/** Reads the fixture's tags when the file loads, so that each tag gets its own test. */
function readFixtureTags(): string[] {
  const index = JSON.parse(readFileSync(join(regclientLayoutDir, "index.json"), "utf8")) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  const tags = index.manifests
    .map((entry) => entry.annotations?.["org.opencontainers.image.ref.name"])
    .filter((tag): tag is string => tag !== undefined);
  return [...new Set(tags)];
}

async function readFixtureBlob(digest: string): Promise<Buffer> {
  return readFile(join(regclientLayoutDir, "blobs", "sha256", digest.slice("sha256:".length)));
}

const fixtureTags = readFixtureTags();

describe("regclient fixtures", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;

  const tagsUrl = () =>
    `${regdav.url}${encodePath(`${registry.host}/${regclientRepository}/_tags`)}/`;
  const tagUrl = (tag: string) => `${tagsUrl()}${encodeURIComponent(tag)}/`;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushRegclientFixtures(registry.host);
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  /**
   * Checks a folder that shows one manifest: manifest.json is a manifest of
   * the fixture, and config.json, when listed, is the config blob it names.
   */
  async function checkManifestFolder(folderUrl: string, names: string[]): Promise<void> {
    const manifestBytes = await getBytes(`${folderUrl}manifest.json`);
    const manifestDigest = sha256Digest(manifestBytes);
    const fixtureManifest = await readFixtureBlob(manifestDigest);
    expect(fixtureManifest.equals(manifestBytes), `${folderUrl}manifest.json`).toBe(true);

    if (!names.includes("config.json")) return;
    const { config } = JSON.parse(manifestBytes.toString()) as { config: { digest: string } };
    const served = await getBytes(`${folderUrl}config.json`);
    const fixtureConfig = await readFixtureBlob(config.digest);
    expect(served.equals(fixtureConfig), `${folderUrl}config.json`).toBe(true);
  }

  it("fixture has tags to check", () => {
    expect(fixtureTags.length).toBeGreaterThan(20);
  });

  it("_tags lists every fixture tag", async () => {
    expect(await listNames(tagsUrl())).toEqual([...fixtureTags].sort());
  });

  it("names the media type of a layer that is not a tar", async () => {
    // a-docker is an artifact whose one layer is a JSON document.
    const response = await davRequest(`${tagUrl("a-docker")}rootfs/`, "PROPFIND", { Depth: "1" });
    const body = response.body.toString();
    expect(response.status, body).toBe(502);
    expect(body).toContain('Its media type "application/vnd.example.build-type+json" is not a tar layer');
  });

  for (const tag of fixtureTags) {
    it(`tag ${tag} lists with its entries`, async () => {
      const entries = await listEntries(tagUrl(tag));
      const names = entries.map((entry) => entry.name);
      expect(names.length, tag).toBeGreaterThan(0);

      if (names.includes("manifest.json")) await checkManifestFolder(tagUrl(tag), names);

      // The entry folders of an index, such as linux-amd64/: every folder
      // that an image folder does not have.
      const entryFolders = entries.filter(
        (entry) => entry.isFolder && !imageSubfolders.includes(entry.name),
      );
      for (const folder of entryFolders) {
        const folderUrl = `${tagUrl(tag)}${encodeURIComponent(folder.name)}/`;
        const response = await davRequest(folderUrl, "PROPFIND", { Depth: "1" });
        expect(response.status, `${tag}/${folder.name}: ${response.body.toString()}`).toBe(207);

        const folderNames = await listNames(folderUrl);
        if (folderNames.includes("manifest.json")) {
          await checkManifestFolder(folderUrl, folderNames);
        }
      }
    });
  }
});
