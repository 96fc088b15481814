import { readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { sha256Digest } from "../harness/image-builder.js";
import { pushRegclientFixtures, regclientLayoutDir, regclientRepository } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, encodePath, getBytes, listEntries, listNames } from "./dav-client.js";

interface LayoutEntry {
  mediaType: string;
  digest: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function readFixtureBlob(digest: string): Buffer {
  return readFileSync(join(regclientLayoutDir, "blobs", "sha256", digest.slice("sha256:".length)));
}

/**
 * Returns each subject of the fixture's referrers tags (`sha256-<hex>`) with
 * the digests its tag's index lists, read when the file loads so that each
 * subject gets its own test.
 */
function readReferrersTags(): { subject: string; referrers: string[] }[] {
  const index = JSON.parse(readFileSync(join(regclientLayoutDir, "index.json"), "utf8")) as {
    manifests: LayoutEntry[];
  };
  const subjects = [];
  for (const entry of index.manifests) {
    // Tags such as `sha256-<hex>.<hex>.meta` follow other schemes and are left out.
    const tag = entry.annotations?.["org.opencontainers.image.ref.name"];
    const hex = /^sha256-([0-9a-f]{64})$/.exec(tag ?? "")?.[1];
    if (hex === undefined) continue;
    const list = JSON.parse(readFixtureBlob(entry.digest).toString()) as {
      manifests?: LayoutEntry[];
    };
    const referrers = (list.manifests ?? []).map((referrer) => referrer.digest);
    subjects.push({ subject: `sha256:${hex}`, referrers });
  }
  return subjects;
}

const referrersTags = readReferrersTags();

describe("referrers of regclient fixtures", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;

  const repositoryUrl = () =>
    `${regdav.url}${encodePath(`${registry.host}/${regclientRepository}`)}/`;
  const digestUrl = (digest: string, path = "") =>
    `${repositoryUrl()}_manifests/sha256/${digest.slice("sha256:".length)}/${encodePath(path)}`;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushRegclientFixtures(registry.host);
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("fixture has referrers tags", () => {
    expect(referrersTags.length).toBeGreaterThan(3);
  });

  it("distribution 2.8 has no referrers API", async () => {
    const digest = referrersTags[0]!.subject;
    const response = await fetch(`${registry.url}/v2/${regclientRepository}/referrers/${digest}`);
    await response.arrayBuffer();
    expect(response.status).toBe(404);
  });

  for (const { subject, referrers } of referrersTags) {
    it(`referrers of ${subject.slice(0, 19)} are listed`, async () => {
      const entries = await listEntries(digestUrl(subject, "_referrers/"));
      expect(entries).toHaveLength(new Set(referrers).size);
      expect(entries.every((entry) => entry.isFolder)).toBe(true);

      const shortHexes = entries.map((entry) => entry.name.slice(-12)).sort();
      const expected = [...new Set(referrers)].map((digest) => digest.slice(-64, -52)).sort();
      expect(shortHexes).toEqual(expected);
    });

    it(`referrer folders of ${subject.slice(0, 19)} open`, async () => {
      for (const name of await listNames(digestUrl(subject, "_referrers/"))) {
        const folder = digestUrl(subject, `_referrers/${name}/`);
        const response = await davRequest(folder, "PROPFIND", { Depth: "1" });
        expect(response.status, `${name}: ${response.body.toString()}`).toBe(207);

        const names = await listNames(folder);
        const own = names.includes("manifest.json") ? "manifest.json" : "index.json";
        const bytes = await getBytes(`${folder}${own}`);
        expect(referrers, name).toContain(sha256Digest(bytes));
      }
    });
  }

  it("tag v2 lists its SBOM and signature", async () => {
    const names = await listNames(`${repositoryUrl()}_tags/v2/_referrers/`);
    expect(names).toHaveLength(2);
    expect(names.some((name) => name.startsWith("example.sbom-"))).toBe(true);
    expect(names.some((name) => name.startsWith("example.signature-"))).toBe(true);
  });

  it("image without referrers lists none", async () => {
    expect(await listNames(`${repositoryUrl()}_tags/b1/_referrers/`)).toEqual([]);
  });

  it("referrer folder has no docker archive tag", async () => {
    const [sbom] = (await listNames(`${repositoryUrl()}_tags/v2/_referrers/`)).filter((name) =>
      name.startsWith("example.sbom-"),
    );
    const index = await getBytes(`${repositoryUrl()}_tags/v2/_referrers/${sbom}/oci/index.json`);
    const entry = (JSON.parse(index.toString()) as { manifests: LayoutEntry[] }).manifests[0];
    expect(entry?.annotations).toBeUndefined();
  });
});
