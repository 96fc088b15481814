import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  makeBlob,
  makeImageConfig,
  makeIndex,
  makeJsonBlob,
  makeLayer,
  makeOciManifest,
  mediaTypes,
  type ImageBlob,
  type ImageFormat,
  type Platform,
} from "../harness/image-builder.js";
import {
  makeImageManifest,
  pushBlob,
  pushImage,
  pushManifest,
  type PushedImage,
} from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest, encodePath, getBytes, listEntries, listNames } from "./dav-client.js";
import { imageFolderNames, imageSubfolders, indexFolderNames } from "./folder-names.js";

const repository = "platforms/app";
const amd64: Platform = { os: "linux", architecture: "amd64" };
const arm64: Platform = { os: "linux", architecture: "arm64", variant: "v8" };

/** The entry folders of the pushed indexes, one per platform and the attestation. */
const platformFolders = ["attestation-linux-amd64", "linux-amd64", "linux-arm64-v8"];

interface PushedIndexTag {
  index: ImageBlob;
  amd64: PushedImage;
  arm64: PushedImage;
  attestation: ImageBlob;
}

/** Pushes one platform's image under its digest; its etc/arch names the architecture. */
async function pushPlatformImage(host: string, platform: Platform, format: ImageFormat) {
  const layer = await makeLayer(
    [
      { type: "directory", path: "etc" },
      { type: "file", path: "etc/arch", content: `${platform.architecture}\n` },
      { type: "file", path: "etc/format", content: `${format}\n` },
    ],
    { format },
  );
  const config = makeImageConfig({ layers: [layer], platform, format });
  const image = { layers: [layer], config, format };
  return pushImage(host, repository, makeImageManifest(image).digest, image);
}

/**
 * Pushes an attestation manifest shaped as buildx writes one: an in-toto
 * statement as its only layer, referring to the image it describes.
 */
async function pushAttestation(host: string, subject: PushedImage): Promise<ImageBlob> {
  const statement = makeJsonBlob("application/vnd.in-toto+json", {
    _type: "https://in-toto.io/Statement/v0.1",
    subject: [{ name: "_", digest: { sha256: subject.digest.slice("sha256:".length) } }],
    predicateType: "https://spdx.dev/Document",
    predicate: {},
  });
  const config = makeBlob(mediaTypes.ociConfig, Buffer.from("{}"));
  await pushBlob(host, repository, statement.bytes);
  await pushBlob(host, repository, config.bytes);
  const manifest = makeOciManifest({ config, layers: [statement] });
  await pushManifest(host, repository, manifest.digest, manifest.bytes, manifest.mediaType);
  return manifest;
}

async function pushIndexTag(
  host: string,
  tag: string,
  format: ImageFormat,
): Promise<PushedIndexTag> {
  const amd64Image = await pushPlatformImage(host, amd64, format);
  const arm64Image = await pushPlatformImage(host, arm64, format);
  const attestation = await pushAttestation(host, amd64Image);
  const index = makeIndex({
    format,
    manifests: [
      { manifest: amd64Image.manifest, platform: amd64 },
      { manifest: arm64Image.manifest, platform: arm64 },
      {
        manifest: attestation,
        platform: { os: "unknown", architecture: "unknown" },
        annotations: {
          "vnd.docker.reference.type": "attestation-manifest",
          "vnd.docker.reference.digest": amd64Image.digest,
        },
      },
    ],
  });
  await pushManifest(host, repository, tag, index.bytes, index.mediaType);
  return { index, amd64: amd64Image, arm64: arm64Image, attestation };
}

describe("multi-platform tags", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let arm64Regdav: RegdavProcess;
  const pushed = new Map<string, PushedIndexTag>();

  const tagUrl = (server: RegdavProcess, tag: string, path: string) =>
    `${server.url}${encodePath(`${registry.host}/${repository}/_tags/${tag}/${path}`)}`;
  const text = async (url: string) => (await getBytes(url)).toString();

  beforeAll(async () => {
    registry = await startRegistry();
    pushed.set("multi", await pushIndexTag(registry.host, "multi", "oci"));
    pushed.set("multi-docker", await pushIndexTag(registry.host, "multi-docker", "docker"));
    const armOnly = await pushPlatformImage(registry.host, arm64, "oci");
    const armIndex = makeIndex({ manifests: [{ manifest: armOnly.manifest, platform: arm64 }] });
    await pushManifest(registry.host, repository, "arm-only", armIndex.bytes, armIndex.mediaType);
    regdav = await startRegdav(["--registry", registry.host]);
    arm64Regdav = await startRegdav(["--registry", registry.host, "--platform", "linux/arm64"]);
  });

  afterAll(async () => {
    await arm64Regdav?.stop();
    await regdav?.stop();
    await registry?.stop();
  });

  const cases = [
    { tag: "multi", kind: "OCI index", format: "oci" },
    { tag: "multi-docker", kind: "Docker manifest list", format: "docker" },
  ];

  for (const { tag, kind, format } of cases) {
    describe(kind, () => {
      it("tag folder holds the index and its platforms", async () => {
        expect(await listNames(tagUrl(regdav, tag, ""))).toEqual(
          indexFolderNames(platformFolders, true),
        );
      });

      it("platform entries are folders", async () => {
        const entries = await listEntries(tagUrl(regdav, tag, ""));
        const folders = entries.filter((entry) => entry.isFolder).map((entry) => entry.name);
        expect(folders).toEqual([...platformFolders, ...imageSubfolders].sort());
      });

      it("index.json is the pushed index", async () => {
        const bytes = await getBytes(tagUrl(regdav, tag, "index.json"));
        expect(bytes.equals(pushed.get(tag)!.index.bytes)).toBe(true);
      });

      it("tag folder shows the amd64 image by default", async () => {
        expect(await text(tagUrl(regdav, tag, "rootfs/etc/arch"))).toBe("amd64\n");
        expect(await text(tagUrl(regdav, tag, "rootfs/etc/format"))).toBe(`${format}\n`);
        const manifest = await getBytes(tagUrl(regdav, tag, "manifest.json"));
        expect(manifest.equals(pushed.get(tag)!.amd64.manifest.bytes)).toBe(true);
      });

      it("amd64 folder shows the amd64 image", async () => {
        const names = await listNames(tagUrl(regdav, tag, "linux-amd64/"));
        expect(names).toEqual(imageFolderNames);
        expect(await text(tagUrl(regdav, tag, "linux-amd64/rootfs/etc/arch"))).toBe("amd64\n");
      });

      it("arm64 folder shows the arm64 image", async () => {
        const names = await listNames(tagUrl(regdav, tag, "linux-arm64-v8/"));
        expect(names).toEqual(imageFolderNames);
        const arch = await text(tagUrl(regdav, tag, "linux-arm64-v8/rootfs/etc/arch"));
        expect(arch).toBe("arm64\n");
        const manifest = await getBytes(tagUrl(regdav, tag, "linux-arm64-v8/manifest.json"));
        expect(manifest.equals(pushed.get(tag)!.arm64.manifest.bytes)).toBe(true);
      });

      it("attestation folder shows its manifest", async () => {
        const names = await listNames(tagUrl(regdav, tag, "attestation-linux-amd64/"));
        expect(names).toContain("manifest.json");
        const url = tagUrl(regdav, tag, "attestation-linux-amd64/manifest.json");
        expect((await getBytes(url)).equals(pushed.get(tag)!.attestation.bytes)).toBe(true);
      });

      it("--platform linux/arm64 shows the arm64 image", async () => {
        expect(await text(tagUrl(arm64Regdav, tag, "rootfs/etc/arch"))).toBe("arm64\n");
        const manifest = await getBytes(tagUrl(arm64Regdav, tag, "manifest.json"));
        expect(manifest.equals(pushed.get(tag)!.arm64.manifest.bytes)).toBe(true);
      });

      it("--platform linux/arm64 keeps every platform folder", async () => {
        const names = await listNames(tagUrl(arm64Regdav, tag, ""));
        expect(names).toContain("linux-amd64");
        expect(names).toContain("linux-arm64-v8");
        const arch = await text(tagUrl(arm64Regdav, tag, "linux-amd64/rootfs/etc/arch"));
        expect(arch).toBe("amd64\n");
      });
    });
  }

  it("index without the wanted platform lists only its entries", async () => {
    const names = await listNames(tagUrl(regdav, "arm-only", ""));
    expect(names).toEqual(indexFolderNames(["linux-arm64-v8"], false));
    const response = await davRequest(tagUrl(regdav, "arm-only", "rootfs/etc/arch"));
    expect(response.status).toBe(404);
  });

  it("index without the wanted platform still opens its entry", async () => {
    const arch = await text(tagUrl(regdav, "arm-only", "linux-arm64-v8/rootfs/etc/arch"));
    expect(arch).toBe("arm64\n");
  });

  it("index by digest shows the same folder", async () => {
    const digest = pushed.get("multi")!.index.digest;
    const path = `${registry.host}/${repository}/_manifests/${digest}/`;
    const url = `${regdav.url}${encodePath(path)}`;
    expect(await listNames(url)).toEqual(indexFolderNames(platformFolders, true));
  });
});
