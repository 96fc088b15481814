import { copyFile, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { sha256Digest, type LayerBlob } from "../harness/image-builder.js";
import { mountWithRclone, type RcloneMount } from "../harness/rclone-mount.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import {
  inspectArchiveConfig,
  inspectArchiveLayers,
  pushExportImages,
  readLayoutManifest,
  type ExportImages,
} from "../export/export-images.js";
import { davRequest, encodePath, getBytes, listNames, statEntry } from "./dav-client.js";

/** Returns the blob requests, GET and HEAD alike, that regdav logged at debug level. */
function blobRequests(output: string): string[] {
  return output.split("\n").filter((line) => /http request .*\/blobs\/sha256:/.test(line));
}

/** Returns the digests of the "layer indexed" log lines, one line per indexing pass. */
function indexedLayers(output: string): string[] {
  const digests: string[] = [];
  for (const line of output.split("\n")) {
    const match = /layer indexed digest=(sha256:[0-9a-f]{64})/.exec(line);
    if (match) digests.push(match[1]!);
  }
  return digests.sort();
}

interface ArchiveCase {
  label: string;
  /** The image folder below the registry folder. */
  folder: string;
  /** The RepoTags expected in manifest.json, given the registry host. */
  repoTags: (host: string) => string[] | null;
  /** The layers the archive must hold, base first. */
  layers: (images: ExportImages) => LayerBlob[];
}

const cases: ArchiveCase[] = [
  {
    label: "OCI image",
    folder: "export/oci/_tags/v1",
    repoTags: (host) => [`${host}/export/oci:v1`],
    layers: (images) => images.oci.layers,
  },
  {
    label: "Docker image",
    folder: "export/docker/_tags/v1",
    repoTags: (host) => [`${host}/export/docker:v1`],
    layers: (images) => images.docker.layers,
  },
  {
    label: "schema1 image",
    folder: "export/schema1/_tags/v1",
    repoTags: (host) => [`${host}/export/schema1:v1`],
    layers: (images) =>
      images.schema1.layers.filter((layer) => !layer.throwaway).map((layer) => layer.layer),
  },
  {
    label: "index platform folder",
    folder: "export/multi/_tags/v1/linux-arm64-v8",
    repoTags: (host) => [`${host}/export/multi:v1`],
    layers: (images) => images.index.layers.arm64,
  },
  {
    label: "index folder",
    folder: "export/multi/_tags/v1",
    repoTags: (host) => [`${host}/export/multi:v1`],
    layers: (images) => images.index.layers.amd64,
  },
];

describe("docker-archive export", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let images: ExportImages;
  let mountDir: TempDir;
  let mount: RcloneMount;
  let workDir: TempDir;

  const url = (path: string) => `${regdav.url}${encodePath(`${registry.host}/${path}`)}`;
  const mounted = (path: string) => join(mountDir.path, registry.host, path);

  beforeAll(async () => {
    registry = await startRegistry({ schema1: true });
    images = await pushExportImages(registry.host);
    regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
    mountDir = await makeTempDir("export-mount");
    mount = await mountWithRclone(regdav.url, mountDir.path);
    workDir = await makeTempDir("export-work");
  });

  afterAll(async () => {
    await mount?.unmount();
    await mountDir?.remove();
    await workDir?.remove();
    await regdav?.stop();
    await registry?.stop();
  });

  it("image folder lists docker-archive without blob requests", async () => {
    const names = await listNames(url("export/oci/_tags/v1/"));
    expect(names).toContain("docker-archive");
    expect(names).toContain("oci");
    expect(names).toContain("_referrers");
    expect(blobRequests(regdav.output())).toEqual([]);
  });

  it("listing docker-archive indexes each layer once", async () => {
    const entry = await statEntry(url("export/docker/_tags/v1/docker-archive/image.tar"));
    expect(entry.size).toBeGreaterThan(0);
    await listNames(url("export/docker/_tags/v1/docker-archive/"));

    const expected = images.docker.layers.map((layer) => layer.digest).sort();
    const indexed = indexedLayers(regdav.output()).filter((digest) => expected.includes(digest));
    expect(indexed).toEqual(expected);
  });

  it("schema1 archive skips throwaway layers", async () => {
    await listNames(url("export/schema1/_tags/v1/docker-archive/"));
    const throwaway = images.schema1.layers.filter((layer) => layer.throwaway);
    expect(throwaway.length).toBeGreaterThan(0);
    for (const layer of throwaway) {
      expect(indexedLayers(regdav.output())).not.toContain(layer.layer.digest);
    }
  });

  for (const archiveCase of cases) {
    describe(archiveCase.label, () => {
      let archivePath: string;
      let expectedLayers: LayerBlob[];

      beforeAll(async () => {
        const name = archiveCase.label.replace(/\W+/g, "-");
        archivePath = join(workDir.path, `${name}.tar`);
        await copyFile(mounted(`${archiveCase.folder}/docker-archive/image.tar`), archivePath);
        expectedLayers = archiveCase.layers(images);
      });

      it("copy has the listed size", async () => {
        const entry = await statEntry(url(`${archiveCase.folder}/docker-archive/image.tar`));
        expect((await stat(archivePath)).size).toBe(entry.size);
      });

      it("skopeo reads the config's diff IDs", async () => {
        const config = await inspectArchiveConfig(archivePath);
        expect(config.rootfs.diff_ids).toEqual(expectedLayers.map((layer) => layer.diffId));
      });

      it("skopeo lists the uncompressed layers", async () => {
        const layers = await inspectArchiveLayers(archivePath);
        expect(layers).toEqual(expectedLayers.map((layer) => layer.diffId));
      });

      it("manifest.json names the tag", async () => {
        const tar = await requireTool("tar");
        const { stdout } = await runCommand(tar, ["-xOf", archivePath, "manifest.json"]);
        const [entry] = JSON.parse(stdout.toString()) as { RepoTags: string[] | null }[];
        expect(entry?.RepoTags).toEqual(archiveCase.repoTags(registry.host));
      });

      it("layer members hash to their diff IDs", async () => {
        const tar = await requireTool("tar");
        for (const layer of expectedLayers) {
          const member = `blobs/sha256/${layer.diffId.slice("sha256:".length)}`;
          const { stdout } = await runCommand(tar, ["-xOf", archivePath, member]);
          expect(sha256Digest(stdout), member).toBe(layer.diffId);
        }
      });

      it("skopeo copies it to an OCI layout", async () => {
        const layoutDir = join(workDir.path, `${archiveCase.label.replace(/\W+/g, "-")}-layout`);
        await runSkopeo([], "copy", [
          "--quiet",
          `docker-archive:${archivePath}`,
          `oci:${layoutDir}:copied`,
        ]);
        const { bytes } = await readLayoutManifest(layoutDir, "copied");
        const manifest = JSON.parse(bytes.toString()) as { layers: unknown[] };
        expect(manifest.layers).toHaveLength(expectedLayers.length);
      });
    });
  }

  it("schema1 config keeps the throwaway step as history", async () => {
    const archivePath = join(workDir.path, "schema1-history.tar");
    await copyFile(mounted("export/schema1/_tags/v1/docker-archive/image.tar"), archivePath);
    const config = await inspectArchiveConfig(archivePath);

    expect(config.history).toHaveLength(images.schema1.layers.length);
    expect(config.history?.at(-1)?.empty_layer).toBe(true);
    expect(config.history?.at(-1)?.created_by).toContain("CMD");
    expect(config.config?.Cmd).toEqual(["/bin/sh"]);
    expect(config.architecture).toBe("amd64");
  });

  it("digest folder archive has no RepoTags", async () => {
    const hex = images.oci.pushed.digest.slice("sha256:".length);
    const archive = await getBytes(
      url(`export/oci/_manifests/sha256/${hex}/docker-archive/image.tar`),
    );
    const archivePath = join(workDir.path, "by-digest.tar");
    await writeFile(archivePath, archive);

    const tar = await requireTool("tar");
    const { stdout } = await runCommand(tar, ["-xOf", archivePath, "manifest.json"]);
    expect(JSON.parse(stdout.toString())[0].RepoTags).toBeNull();
    const members = (await runCommand(tar, ["-tf", archivePath])).stdout.toString();
    expect(members.split("\n")).not.toContain("repositories");
  });

  it("repositories names the top layer", async () => {
    const tar = await requireTool("tar");
    const archivePath = join(workDir.path, "OCI-image.tar");
    const { stdout } = await runCommand(tar, ["-xOf", archivePath, "repositories"]);
    const top = images.oci.layers.at(-1)!.diffId.slice("sha256:".length);
    expect(JSON.parse(stdout.toString())).toEqual({ [`${registry.host}/export/oci`]: { v1: top } });
  });

  describe("byte ranges", () => {
    let whole: Buffer;
    const archiveUrl = () => url("export/oci/_tags/v1/docker-archive/image.tar");

    beforeAll(async () => {
      whole = await getBytes(archiveUrl());
    });

    it("full read equals the mounted copy", async () => {
      const copied = await readFile(join(workDir.path, "OCI-image.tar"));
      expect(whole.equals(copied)).toBe(true);
    });

    it("random ranges equal the full read", async () => {
      for (let trial = 0; trial < 40; trial++) {
        const start = Math.floor(Math.random() * whole.length);
        const end = Math.min(whole.length - 1, start + Math.floor(Math.random() * 200_000));
        const response = await davRequest(archiveUrl(), "GET", { Range: `bytes=${start}-${end}` });
        expect(response.status, `${start}-${end}`).toBe(206);
        expect(response.body.equals(whole.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      }
    });

    it("suffix range reads the end", async () => {
      const response = await davRequest(archiveUrl(), "GET", { Range: "bytes=-1500" });
      expect(response.status).toBe(206);
      expect(response.body.equals(whole.subarray(whole.length - 1500))).toBe(true);
    });

    it("a second full read is identical", async () => {
      const again = await getBytes(archiveUrl());
      expect(again.equals(whole)).toBe(true);
    });

    it("ETag stays the same across reads", async () => {
      const first = await davRequest(archiveUrl(), "HEAD");
      const second = await davRequest(archiveUrl(), "HEAD");
      expect(first.headers.get("etag")).toBeTruthy();
      expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    });
  });
});
