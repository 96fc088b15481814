import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeImageConfig, makeLayer, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, listEntries, statEntry, type DavEntry } from "./dav-client.js";

/**
 * Repeated listings and reads of image files, which regdav serves from its
 * listing cache after the first time. Two images share a base layer, and
 * the second overrides one of its files, so a listing cached for one view
 * would show wrong sizes or ETags in another.
 */

const BASE_MOTD = "base message of the day\n";
const TOP_MOTD = "the top layer's longer message of the day\n";

let registry: TestRegistry;
let regdav: RegdavProcess;
let base: LayerBlob;
let top: LayerBlob;
let plainDigest: string;

beforeAll(async () => {
  registry = await startRegistry();
  base = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/motd", content: BASE_MOTD },
    { type: "file", path: "etc/hostname", content: "base\n" },
  ]);
  top = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/motd", content: TOP_MOTD },
  ]);
  const plain = { layers: [base], config: makeImageConfig({ layers: [base] }), format: "oci" as const };
  plainDigest = (await pushImage(registry.host, "demo/plain", "v1", plain)).digest;
  const layered = {
    layers: [base, top],
    config: makeImageConfig({ layers: [base, top] }),
    format: "oci" as const,
  };
  await pushImage(registry.host, "demo/layered", "v1", layered);
  regdav = await startRegdav(["--registry", registry.host]);
});

afterAll(async () => {
  await regdav?.stop();
  await registry?.stop();
});

function imageUrl(repository: string, reference = "_tags/v1"): string {
  return `${regdav.url}${registry.host}/${repository}/${reference}/`;
}

function layerFolder(position: number, layer: LayerBlob): string {
  return `layers/${position}-${layer.digest.slice("sha256:".length, "sha256:".length + 12)}/`;
}

function entryNamed(entries: DavEntry[], name: string): DavEntry {
  const entry = entries.find((candidate) => candidate.name === name);
  expect(entry, name).toBeDefined();
  return entry!;
}

async function getFile(url: string): Promise<{ body: string; etag: string | null }> {
  const response = await davRequest(url);
  expect(response.status, url).toBe(200);
  return { body: response.body.toString("utf8"), etag: response.headers.get("etag") };
}

describe("warm listings", () => {
  it("repeated listing is unchanged", async () => {
    const url = imageUrl("demo/layered") + "rootfs/etc/";
    const first = await listEntries(url);
    const second = await listEntries(url);
    expect(second).toEqual(first);
    expect(first.map((entry) => entry.name)).toEqual(["hostname", "motd"]);
  });

  it("rootfs shows the top layer's file", async () => {
    const entries = await listEntries(imageUrl("demo/layered") + "rootfs/etc/");
    expect(entryNamed(entries, "motd").size).toBe(Buffer.byteLength(TOP_MOTD));
  });

  it("base layer folder shows its own file", async () => {
    const url = imageUrl("demo/layered") + layerFolder(1, base) + "etc/";
    const entries = await listEntries(url);
    expect(entryNamed(entries, "motd").size).toBe(Buffer.byteLength(BASE_MOTD));
  });

  it("image sharing the base keeps its file", async () => {
    await listEntries(imageUrl("demo/layered") + "rootfs/etc/");
    const entries = await listEntries(imageUrl("demo/plain") + "rootfs/etc/");
    expect(entryNamed(entries, "motd").size).toBe(Buffer.byteLength(BASE_MOTD));
    const { body } = await getFile(imageUrl("demo/plain") + "rootfs/etc/motd");
    expect(body).toBe(BASE_MOTD);
  });

  it("listed ETags match GET after listing", async () => {
    const folder = imageUrl("demo/layered") + "rootfs/etc/";
    const entries = await listEntries(folder);
    for (const name of ["motd", "hostname"]) {
      const { etag } = await getFile(folder + name);
      expect(etag, name).toBe(entryNamed(entries, name).etag);
    }
  });

  it("ETags match when GET comes first", async () => {
    const folder = imageUrl("demo/plain", `_manifests/${plainDigest.replace(":", "/")}`);
    const { body, etag } = await getFile(folder + "rootfs/etc/hostname");
    expect(body).toBe("base\n");
    const entry = await statEntry(folder + "rootfs/etc/hostname");
    expect(entry.etag).toBe(etag);
    const listed = entryNamed(await listEntries(folder + "rootfs/etc/"), "hostname");
    expect(listed.etag).toBe(etag);
  });

  it("differing files get differing ETags", async () => {
    const plain = await statEntry(imageUrl("demo/plain") + "rootfs/etc/motd");
    const layered = await statEntry(imageUrl("demo/layered") + "rootfs/etc/motd");
    expect(plain.etag).toBeDefined();
    expect(layered.etag).not.toBe(plain.etag);
  });

  it("reads by path keep views apart", async () => {
    const layered = imageUrl("demo/layered");
    const reads: [string, string][] = [
      [layered + "rootfs/etc/motd", TOP_MOTD],
      [imageUrl("demo/plain") + "rootfs/etc/motd", BASE_MOTD],
      [layered + layerFolder(1, base) + "etc/motd", BASE_MOTD],
      [layered + layerFolder(2, top) + "etc/motd", TOP_MOTD],
      [layered + "rootfs/etc/motd", TOP_MOTD],
    ];
    for (const [url, expected] of reads) {
      const { body } = await getFile(url);
      expect(body, url).toBe(expected);
    }
  });

  it("HEAD matches GET headers", async () => {
    const url = imageUrl("demo/layered") + "rootfs/etc/motd";
    const head = await davRequest(url, "HEAD");
    const get = await davRequest(url);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(TOP_MOTD)));
    expect(head.headers.get("etag")).toBe(get.headers.get("etag"));
    expect(get.body.toString("utf8")).toBe(TOP_MOTD);
  });

  it("range read of a small file", async () => {
    const url = imageUrl("demo/layered") + "rootfs/etc/motd";
    const response = await davRequest(url, "GET", { Range: "bytes=4-9" });
    expect(response.status).toBe(206);
    expect(response.body.toString("utf8")).toBe(TOP_MOTD.slice(4, 10));
    expect(response.headers.get("content-range")).toBe(
      `bytes 4-9/${Buffer.byteLength(TOP_MOTD)}`,
    );
  });
});
