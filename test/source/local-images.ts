import { createHash } from "node:crypto";

import {
  makeBlob,
  makeImageConfig,
  makeLayer,
  makeOciManifest,
  mediaTypes,
  type ImageBlob,
  type LayerBlob,
} from "../harness/image-builder.js";

/**
 * The small images that every local source test writes in its own format:
 * an image with two layers and two tags, one from another registry whose
 * layer is addressed by a sha512 digest, and one without any name.
 */

export interface TestImage {
  /** The values of the layout's ref name annotations and of docker's RepoTags. */
  names: string[];
  /** The repository and tag that each name must be listed as. */
  tags: [repository: string, tag: string][];
  config: ImageBlob;
  layers: LayerBlob[];
  /** The OCI manifest, as the layout and OCI archive store it. */
  manifest: ImageBlob;
}

export interface TestImageSet {
  images: TestImage[];
  /** Repositories and their sorted tags, as every source must list them (without the default repository). */
  tagsByRepository: Record<string, string[]>;
}

/** Source name the tests use, which is also its default repository. */
export const testSourceName = "local";

export function sha512Digest(bytes: Buffer): string {
  return `sha512:${createHash("sha512").update(bytes).digest("hex")}`;
}

/** Builds the test images. Every call gives the same bytes. */
export async function buildTestImages(): Promise<TestImageSet> {
  const web = await buildImage(
    ["web:1.0", "docker.io/library/web:latest"],
    [
      ["library/web", "1.0"],
      ["library/web", "latest"],
    ],
    [
      [
        { type: "directory", path: "srv/" },
        { type: "file", path: "srv/index.html", content: "<h1>hello</h1>\n" },
      ],
      [{ type: "file", path: "etc/web.conf", content: "port = 8080\n".repeat(50) }],
    ],
  );
  const tool = await buildImage(
    ["ghcr.io/team/tool:2"],
    [["ghcr.io/team/tool", "2"]],
    [[{ type: "file", path: "usr/bin/tool", content: "#!/bin/sh\n" }]],
    {
      sha512Layers: true,
    },
  );
  const untagged = await buildImage(
    [],
    [],
    [[{ type: "file", path: "README", content: "no name\n" }]],
  );

  return {
    images: [web, tool, untagged],
    tagsByRepository: { "library/web": ["1.0", "latest"], "ghcr.io/team/tool": ["2"] },
  };
}

type LayerEntries = Parameters<typeof makeLayer>[0];

async function buildImage(
  names: string[],
  tags: [string, string][],
  layerEntries: LayerEntries[],
  options: { sha512Layers?: boolean } = {},
): Promise<TestImage> {
  const layers: LayerBlob[] = [];
  for (const entries of layerEntries) {
    const layer = await makeLayer(entries, { compression: "gzip" });
    layers.push(options.sha512Layers ? { ...layer, digest: sha512Digest(layer.bytes) } : layer);
  }

  const config = makeImageConfig({
    layers,
    config: { Cmd: ["/bin/sh"], Labels: { names: names.join(",") } },
  });
  const manifest = makeOciManifest({ config, layers });
  return { names, tags, config, layers, manifest };
}

/** A blob with the OCI layer media type for uncompressed tars, as docker save since version 25 stores layers. */
export function uncompressedLayerOf(layer: LayerBlob): ImageBlob {
  return makeBlob(mediaTypes.ociLayer, layer.uncompressed);
}
