import { performance } from "node:perf_hooks";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  APP_REPOSITORY,
  DECOMPOSED_NAME,
  MULTI_REPOSITORY,
  PRECOMPOSED_NAME,
  startClientFixture,
  type ClientFixture,
} from "./client-fixture.js";

/**
 * Checks at the protocol level what Finder and Explorer need, since neither
 * runs here. They need class 1 only, so that Finder mounts read-only, and
 * OPTIONS on every folder. They also need quick 404s for the files they
 * probe for, and names that macOS sends decomposed must match precomposed ones.
 */

/** The names Finder, Explorer and Windows thumbnails look up in every folder they open. */
const PROBES = [
  "._manifest.json",
  ".DS_Store",
  "desktop.ini",
  "Thumbs.db",
  "thumbs.db",
  "Backups.backupdb",
];

/** Max milliseconds for a probe's two requests, which need no registry request. */
const PROBE_TIME_LIMIT_MS = 500;

let fixture: ClientFixture;
let folders: string[];

beforeAll(async () => {
  fixture = await startClientFixture();
  const registry = `${fixture.regdav.url}${fixture.registryName}/`;
  const app = `${registry}${APP_REPOSITORY}/`;
  const multi = `${registry}${MULTI_REPOSITORY}/`;
  const appDigest = fixture.app.digest.slice("sha256:".length);
  // Every level above layer contents.
  folders = [
    fixture.regdav.url,
    registry,
    `${registry}clients/`,
    app,
    `${app}_tags/`,
    fixture.appUrl,
    `${fixture.appUrl}layers/`,
    `${app}_manifests/`,
    `${app}_manifests/sha256/`,
    `${app}_manifests/sha256/${appDigest}/`,
    `${app}_blobs/`,
    `${app}_blobs/sha256/`,
    `${multi}_tags/latest/`,
    `${multi}_tags/latest/linux-arm64-v8/`,
  ];
  // Warm the caches, so that the probes below find every parent folder known.
  for (const folder of folders) await propfind(folder, "1");
});

afterAll(async () => {
  await fixture?.stop();
});

async function propfind(url: string, depth: "0" | "1"): Promise<number> {
  const response = await fetch(url, { method: "PROPFIND", headers: { Depth: depth } });
  await response.arrayBuffer();
  return response.status;
}

describe("OPTIONS", () => {
  it("every folder announces class 1 only", async () => {
    for (const folder of folders) {
      const response = await fetch(folder, { method: "OPTIONS" });
      expect(response.status, folder).toBe(200);
      expect(response.headers.get("dav"), folder).toBe("1");
      expect(response.headers.get("allow"), folder).toBe("OPTIONS, GET, HEAD, PROPFIND");
      expect(response.headers.get("ms-author-via"), folder).toBe("DAV");
    }
  });

  it("a file answers OPTIONS too", async () => {
    const response = await fetch(`${fixture.appUrl}manifest.json`, { method: "OPTIONS" });
    expect(response.status).toBe(200);
    expect(response.headers.get("dav")).toBe("1");
  });

  it("LOCK is rejected as read-only", async () => {
    const response = await fetch(`${fixture.appUrl}manifest.json`, { method: "LOCK" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).not.toContain("LOCK");
  });
});

describe("file manager probes", () => {
  it("proxy saw the warm-up requests", () => {
    expect(fixture.proxy.requests().some((line) => line.includes("/manifests/"))).toBe(true);
  });

  it("every level answers 404 without the registry", async () => {
    fixture.proxy.reset();
    for (const folder of folders) {
      for (const name of PROBES) {
        const url = folder + encodeURIComponent(name);
        const started = performance.now();
        expect(await propfind(url, "0"), `PROPFIND ${url}`).toBe(404);
        const get = await fetch(url);
        await get.arrayBuffer();
        expect(get.status, `GET ${url}`).toBe(404);
        expect(performance.now() - started, url).toBeLessThan(PROBE_TIME_LIMIT_MS);
      }
    }
    expect(fixture.proxy.requests()).toEqual([]);
  });

  it("probe names inside a layer stay files", async () => {
    const response = await fetch(`${fixture.appUrl}rootfs/etc/desktop.ini`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("[.ShellClassInfo]\n");
  });
});

describe("Unicode normalization", () => {
  it("decomposed name finds the precomposed file", async () => {
    const response = await fetch(
      `${fixture.appUrl}rootfs/etc/${encodeURIComponent(DECOMPOSED_NAME)}`,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("accent\n");
  });

  it("precomposed name still matches exactly", async () => {
    const response = await fetch(
      `${fixture.appUrl}rootfs/etc/${encodeURIComponent(PRECOMPOSED_NAME)}`,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("accent\n");
  });

  it("PROPFIND by decomposed name is 207", async () => {
    const url = `${fixture.appUrl}layers/`;
    const listing = await (await fetch(url)).text();
    const layer = /href="[^"]*\/(1-[0-9a-f]{12})\/"/.exec(listing)?.[1];
    expect(layer).toBeDefined();
    const file = `${url}${layer}/etc/${encodeURIComponent(DECOMPOSED_NAME)}`;
    expect(await propfind(file, "0")).toBe(207);
  });

  it("unknown decomposed name is 404", async () => {
    const response = await fetch(
      `${fixture.appUrl}rootfs/etc/${encodeURIComponent("nai\u0308ve.txt")}`,
    );
    expect(response.status).toBe(404);
    await response.arrayBuffer();
  });
});
