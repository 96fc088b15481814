import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { sha256Digest } from "../harness/image-builder.js";
import { unpackWithUmoci, walkTree, type TreeEntry } from "../harness/oracle.js";
import { mountWithRclone, type RcloneMount } from "../harness/rclone-mount.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import {
  amd64,
  pushExportImages,
  readLayoutManifest,
  type ExportImages,
} from "../export/export-images.js";
import { encodePath, getBytes } from "./dav-client.js";

const manifestAccept = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Returns the digest a registry reports for a manifest, by HEAD. */
async function registryDigest(registry: TestRegistry, repository: string, reference: string) {
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    method: "HEAD",
    headers: { Accept: manifestAccept },
  });
  expect(response.status, `${repository}:${reference}`).toBe(200);
  return response.headers.get("docker-content-digest");
}

/** Copies a folder of the mount with `cp -r`, as a user would. */
async function copyFolder(from: string, to: string): Promise<void> {
  const cp = await requireTool("cp");
  await runCommand(cp, ["-r", from, to], { timeoutMs: 120_000 });
}

/** Unpacks a layout's `ref` with umoci and returns its tree. */
async function umociTree(layoutDir: string, ref: string, bundleDir: string): Promise<TreeEntry[]> {
  const umoci = await requireTool("umoci");
  await runCommand(umoci, ["unpack", "--image", `${layoutDir}:${ref}`, bundleDir], {
    timeoutMs: 120_000,
  });
  return walkTree(join(bundleDir, "rootfs"));
}

async function sha256File(path: string): Promise<string> {
  return `sha256:${createHash("sha256")
    .update(await readFile(path))
    .digest("hex")}`;
}

describe("oci layout export", () => {
  let registry: TestRegistry;
  let target: TestRegistry;
  let regdav: RegdavProcess;
  let images: ExportImages;
  let mountDir: TempDir;
  let mount: RcloneMount;
  let workDir: TempDir;

  const mounted = (path: string) => join(mountDir.path, registry.host, path);
  const url = (path: string) => `${regdav.url}${encodePath(`${registry.host}/${path}`)}`;
  const work = (name: string) => join(workDir.path, name);

  /**
   * Copies `<folder>/oci` out of the mount and pushes it to the second
   * registry, selecting the layout's manifest by `ref`, or as its only one.
   */
  async function copyAndPush(
    folder: string,
    name: string,
    repository: string,
    ref: string | null = "v1",
  ): Promise<string> {
    await copyFolder(mounted(`${folder}/oci`), work(name));
    const source = ref === null ? `oci:${work(name)}` : `oci:${work(name)}:${ref}`;
    const args = ["--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false"];
    args.push(source, `docker://${target.host}/${repository}:v1`);
    await runSkopeo([], "copy", args);
    return work(name);
  }

  beforeAll(async () => {
    registry = await startRegistry({ schema1: true });
    target = await startRegistry();
    images = await pushExportImages(registry.host);
    regdav = await startRegdav(["--registry", registry.host]);
    mountDir = await makeTempDir("layout-mount");
    mount = await mountWithRclone(regdav.url, mountDir.path);
    workDir = await makeTempDir("layout-work");
  });

  afterAll(async () => {
    await mount?.unmount();
    await mountDir?.remove();
    await workDir?.remove();
    await regdav?.stop();
    await target?.stop();
    await registry?.stop();
  });

  describe("OCI image", () => {
    let layoutDir: string;

    beforeAll(async () => {
      layoutDir = await copyAndPush("export/oci/_tags/v1", "oci-image", "copied/oci");
    });

    it("layout names the manifest by tag", async () => {
      const { digest, bytes } = await readLayoutManifest(layoutDir, "v1");
      expect(digest).toBe(images.oci.pushed.digest);
      expect(bytes.equals(images.oci.pushed.manifest.bytes)).toBe(true);
    });

    it("oci-layout marks version 1.0.0", async () => {
      const layout = JSON.parse(await readFile(join(layoutDir, "oci-layout"), "utf8"));
      expect(layout).toEqual({ imageLayoutVersion: "1.0.0" });
    });

    it("every blob hashes to its name", async () => {
      const names = await readdir(join(layoutDir, "blobs", "sha256"));
      expect(names.length).toBe(2 + images.oci.layers.length);
      for (const name of names) {
        const digest = await sha256File(join(layoutDir, "blobs", "sha256", name));
        expect(digest, name).toBe(`sha256:${name}`);
      }
    });

    it("pushed copy keeps the manifest digest", async () => {
      expect(await registryDigest(target, "copied/oci", "v1")).toBe(images.oci.pushed.digest);
    });
  });

  // umoci 0.4.7 rejects zstd layers, so umoci unpacks a platform of the index,
  // whose layers are all gzip.
  describe("platform folder", () => {
    const folder = "export/multi/_tags/v1/linux-amd64";
    let layoutDir: string;

    beforeAll(async () => {
      layoutDir = await copyAndPush(folder, "amd64", "copied/amd64");
    });

    it("umoci unpacks the same tree as from the registry", async () => {
      const copied = await umociTree(layoutDir, "v1", work("amd64-bundle"));
      const oracle = await unpackWithUmoci(registry.host, "export/multi", "v1", amd64);
      try {
        expect(copied).toEqual(await walkTree(oracle.rootfs));
      } finally {
        await oracle.remove();
      }
    });

    it("umoci files match rootfs files", async () => {
      const copied = await walkTree(join(work("amd64-bundle"), "rootfs"));
      const files = copied.filter((entry) => entry.type === "file");
      expect(files.length).toBeGreaterThan(2);
      for (const entry of files) {
        const served = await sha256File(mounted(`${folder}/rootfs/${entry.path}`));
        expect(served, entry.path).toBe(entry.sha256);
      }
    });

    it("pushed copy keeps the platform digest", async () => {
      const amd64Digest = images.index.pushed.images[0]!.digest;
      expect(await registryDigest(target, "copied/amd64", "v1")).toBe(amd64Digest);
    });
  });

  describe("Docker image", () => {
    // skopeo 1.9 finds a ref name only among entries of OCI media types, so
    // this layout, whose manifest has the Docker media type, is read without one.
    it("pushed copy keeps the manifest digest", async () => {
      await copyAndPush("export/docker/_tags/v1", "docker-image", "copied/docker", null);
      const digest = await registryDigest(target, "copied/docker", "v1");
      expect(digest).toBe(images.docker.pushed.digest);
    });
  });

  describe("index", () => {
    let layoutDir: string;

    beforeAll(async () => {
      layoutDir = await copyAndPush("export/multi/_tags/v1", "index", "copied/multi");
    });

    it("layout holds the index and every platform", async () => {
      const { digest } = await readLayoutManifest(layoutDir, "v1");
      expect(digest).toBe(images.index.pushed.digest);
      const names = await readdir(join(layoutDir, "blobs", "sha256"));
      for (const image of images.index.pushed.images) {
        expect(names, image.digest).toContain(image.digest.slice("sha256:".length));
      }
      const layers = [...images.index.layers.amd64, ...images.index.layers.arm64];
      for (const layer of layers) expect(names).toContain(layer.digest.slice("sha256:".length));
    });

    it("pushed copy keeps the index digest", async () => {
      expect(await registryDigest(target, "copied/multi", "v1")).toBe(images.index.pushed.digest);
    });

    it("pushed copy has every platform manifest", async () => {
      for (const image of images.index.pushed.images) {
        expect(await registryDigest(target, "copied/multi", image.digest)).toBe(image.digest);
      }
    });

    it("platform folder layout holds one platform", async () => {
      const names = await readdir(mounted("export/multi/_tags/v1/linux-arm64-v8/oci/blobs/sha256"));
      const arm64 = images.index.pushed.images[1]!.digest.slice("sha256:".length);
      expect(names).toContain(arm64);
      expect(names).not.toContain(images.index.pushed.digest.slice("sha256:".length));
    });
  });

  describe("schema1 image", () => {
    let layoutDir: string;

    beforeAll(async () => {
      layoutDir = await copyAndPush("export/schema1/_tags/v1", "schema1", "copied/schema1");
    });

    it("layout holds a converted OCI manifest", async () => {
      const { bytes } = await readLayoutManifest(layoutDir, "v1");
      const manifest = JSON.parse(bytes.toString()) as { mediaType: string; layers: unknown[] };
      expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
      const applied = images.schema1.layers.filter((layer) => !layer.throwaway);
      expect(manifest.layers).toHaveLength(applied.length);
    });

    it("pushed copy keeps the converted digest", async () => {
      const { digest } = await readLayoutManifest(layoutDir, "v1");
      expect(await registryDigest(target, "copied/schema1", "v1")).toBe(digest);
    });

    it("umoci unpacks the same tree as from the registry", async () => {
      const copied = await umociTree(layoutDir, "v1", work("schema1-bundle"));
      const oracle = await unpackWithUmoci(registry.host, "export/schema1", "v1");
      try {
        expect(copied).toEqual(await walkTree(oracle.rootfs));
      } finally {
        await oracle.remove();
      }
    });
  });

  it("digest folder layout has no ref name", async () => {
    const hex = images.oci.pushed.digest.slice("sha256:".length);
    const index = await getBytes(url(`export/oci/_manifests/sha256/${hex}/oci/index.json`));
    const parsed = JSON.parse(index.toString()) as { manifests: Record<string, unknown>[] };
    expect(parsed.manifests).toHaveLength(1);
    expect(parsed.manifests[0]!.annotations).toBeUndefined();
    expect(parsed.manifests[0]!.digest).toBe(images.oci.pushed.digest);
  });

  it("index.json matches the registry's manifest", async () => {
    const index = await getBytes(url("export/docker/_tags/v1/oci/index.json"));
    const [entry] = (JSON.parse(index.toString()) as { manifests: Record<string, unknown>[] })
      .manifests;
    expect(entry!.mediaType).toBe(images.docker.pushed.manifest.mediaType);
    expect(entry!.size).toBe(images.docker.pushed.manifest.size);
    expect(sha256Digest(images.docker.pushed.manifest.bytes)).toBe(entry!.digest);
  });
});
