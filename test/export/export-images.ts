import { readFile } from "node:fs/promises";
import { join } from "node:path";

import {
  makeImageConfig,
  makeLayer,
  type ImageFormat,
  type LayerBlob,
  type Platform,
} from "../harness/image-builder.js";
import {
  pushImage,
  pushIndex,
  pushSchema1Image,
  type PushedImage,
  type PushedIndex,
  type PushedSchema1Image,
} from "../harness/push.js";
import { runSkopeo } from "../harness/skopeo.js";

/** The images the export tests push, with what each test compares against. */
export interface ExportImages {
  oci: { pushed: PushedImage; layers: LayerBlob[] };
  docker: { pushed: PushedImage; layers: LayerBlob[] };
  schema1: PushedSchema1Image;
  index: { pushed: PushedIndex; layers: Record<"amd64" | "arm64", LayerBlob[]> };
}

export const amd64: Platform = { os: "linux", architecture: "amd64" };
export const arm64: Platform = { os: "linux", architecture: "arm64", variant: "v8" };

/**
 * Builds the layers of one image, whose content names `label`, so no two
 * images share a layer: two gzip layers, and a zstd layer for the `oci` image.
 */
async function makeLayers(label: string, format: ImageFormat): Promise<LayerBlob[]> {
  const layers = [
    await makeLayer(
      [
        { type: "directory", path: "etc" },
        { type: "file", path: "etc/os-release", content: `ID=${label}\n` },
        { type: "file", path: "etc/old.conf", content: "removed by the next layer\n" },
        { type: "file", path: "bin/tool", content: Buffer.alloc(70_000, label), mode: 0o755 },
        { type: "symlink", path: "bin/tool-link", target: "tool" },
      ],
      { format },
    ),
    await makeLayer(
      [
        { type: "file", path: "etc/motd", content: `${label} motd\n` },
        { type: "file", path: "etc/.wh.old.conf" },
        { type: "file", path: "etc/os-release", content: `ID=${label}-2\n` },
      ],
      { format },
    ),
  ];
  if (label === "oci") {
    const zstd = await makeLayer(
      [{ type: "file", path: "var/data.bin", content: Buffer.alloc(3000, 7) }],
      { compression: "zstd", format },
    );
    layers.push(zstd);
  }
  return layers;
}

/** Pushes every export test image into `host`: `export/*` repositories, tags `v1`. */
export async function pushExportImages(host: string): Promise<ExportImages> {
  const ociLayers = await makeLayers("oci", "oci");
  const ociConfig = makeImageConfig({ layers: ociLayers, config: { Cmd: ["/bin/tool"] } });
  const oci = await pushImage(host, "export/oci", "v1", {
    layers: ociLayers,
    config: ociConfig,
    format: "oci",
  });

  const dockerLayers = await makeLayers("docker", "docker");
  const dockerConfig = makeImageConfig({ layers: dockerLayers, format: "docker" });
  const docker = await pushImage(host, "export/docker", "v1", {
    layers: dockerLayers,
    config: dockerConfig,
    format: "docker",
  });

  const schema1Layers = await makeLayers("schema1", "docker");
  const schema1 = await pushSchema1Image(host, "export/schema1", "v1", schema1Layers);

  const amd64Layers = await makeLayers("amd64", "oci");
  const arm64Layers = await makeLayers("arm64", "oci");
  const images = [
    {
      platform: amd64,
      layers: amd64Layers,
      config: makeImageConfig({ layers: amd64Layers, platform: amd64 }),
    },
    {
      platform: arm64,
      layers: arm64Layers,
      config: makeImageConfig({ layers: arm64Layers, platform: arm64 }),
    },
  ];
  const index = await pushIndex(host, "export/multi", "v1", { images, format: "oci" });

  return {
    oci: { pushed: oci, layers: ociLayers },
    docker: { pushed: docker, layers: dockerLayers },
    schema1,
    index: { pushed: index, layers: { amd64: amd64Layers, arm64: arm64Layers } },
  };
}

/** The parts of an image config that the tests compare. */
export interface ImageConfig {
  architecture?: string;
  rootfs: { type: string; diff_ids: string[] };
  history?: { created_by?: string; empty_layer?: boolean }[];
  config?: Record<string, unknown>;
}

/** Returns the config skopeo reads from a docker load archive. */
export async function inspectArchiveConfig(archivePath: string): Promise<ImageConfig> {
  const { stdout } = await runSkopeo([], "inspect", ["--config", `docker-archive:${archivePath}`]);
  return JSON.parse(stdout.toString()) as ImageConfig;
}

/** Returns the layer digests skopeo reports for a docker load archive, base first. */
export async function inspectArchiveLayers(archivePath: string): Promise<string[]> {
  const { stdout } = await runSkopeo([], "inspect", [`docker-archive:${archivePath}`]);
  return (JSON.parse(stdout.toString()) as { Layers: string[] }).Layers;
}

/** Reads the manifest that an OCI layout's index.json names under `ref`. */
export async function readLayoutManifest(layoutDir: string, ref: string) {
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find(
    (manifest) => manifest.annotations?.["org.opencontainers.image.ref.name"] === ref,
  );
  if (!entry) throw new Error(`${layoutDir}/index.json has no manifest named ${ref}`);
  const hex = entry.digest.slice("sha256:".length);
  const bytes = await readFile(join(layoutDir, "blobs", "sha256", hex));
  return { digest: entry.digest, bytes };
}
