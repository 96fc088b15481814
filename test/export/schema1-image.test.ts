import { describe, expect, it } from "vitest";

import { appliedLayers, convertSchema1 } from "../../src/export/schema1-image.js";
import { parseManifest } from "../../src/manifest/parse.js";
import type { Schema1Manifest } from "../../src/manifest/manifest-types.js";
import {
  gzip,
  makeBlob,
  makeLayerTar,
  mediaTypes,
  sha256Digest,
} from "../harness/image-builder.js";
import { makeSchema1Payload, signSchema1, type Schema1Layer } from "../harness/schema1.js";

async function makeLayer(label: string, throwaway: boolean): Promise<Schema1Layer> {
  const entries = throwaway
    ? []
    : [{ type: "file" as const, path: `${label}.txt`, content: label }];
  const uncompressed = await makeLayerTar(entries);
  const blob = makeBlob(mediaTypes.dockerLayerGzip, gzip(uncompressed));
  return {
    layer: { ...blob, diffId: sha256Digest(uncompressed), uncompressed },
    throwaway,
    createdBy: throwaway ? '#(nop)  CMD ["/bin/sh"]' : `#(nop) ADD file:${label} in / `,
  };
}

async function makeManifest(): Promise<{ manifest: Schema1Manifest; layers: Schema1Layer[] }> {
  const layers = [
    await makeLayer("base", false),
    await makeLayer("top", false),
    await makeLayer("cmd", true),
  ];
  const payload = makeSchema1Payload({
    name: "legacy/app",
    tag: "v1",
    layers,
    config: { Cmd: ["/bin/sh"], Env: ["A=1"] },
  });
  const signed = signSchema1(payload);
  const parsed = parseManifest({
    digest: sha256Digest(payload),
    mediaType: mediaTypes.schema1Signed,
    bytes: signed,
  });
  if (parsed.kind !== "schema1") throw new Error(`parsed as ${parsed.kind}`);
  return { manifest: parsed, layers };
}

function convert(manifest: Schema1Manifest, layers: readonly Schema1Layer[]) {
  const applied = layers.filter((layer) => !layer.throwaway);
  return convertSchema1(
    manifest,
    applied.map((layer) => ({
      digest: layer.layer.digest,
      size: layer.layer.size,
      diffId: layer.layer.diffId,
      compression: "gzip" as const,
    })),
  );
}

describe("appliedLayers", () => {
  it("leaves out throwaway layers, base first", async () => {
    const { manifest, layers } = await makeManifest();
    expect(appliedLayers(manifest).map((layer) => layer.digest)).toEqual([
      layers[0]!.layer.digest,
      layers[1]!.layer.digest,
    ]);
  });
});

describe("convertSchema1", () => {
  it("config lists the diff IDs", async () => {
    const { manifest, layers } = await makeManifest();
    const config = JSON.parse(convert(manifest, layers).config.toString());
    expect(config.rootfs).toEqual({
      type: "layers",
      diff_ids: [layers[0]!.layer.diffId, layers[1]!.layer.diffId],
    });
  });

  it("config drops the v1 layer fields", async () => {
    const { manifest, layers } = await makeManifest();
    const config = JSON.parse(convert(manifest, layers).config.toString());
    for (const field of ["id", "parent", "Size", "parent_id", "layer_id", "throwaway"]) {
      expect(config, field).not.toHaveProperty(field);
    }
  });

  it("config keeps the image configuration", async () => {
    const { manifest, layers } = await makeManifest();
    const config = JSON.parse(convert(manifest, layers).config.toString());
    expect(config.config).toEqual({ Cmd: ["/bin/sh"], Env: ["A=1"] });
    expect(config.architecture).toBe("amd64");
    expect(config.os).toBe("linux");
  });

  it("history has every step, base first", async () => {
    const { manifest, layers } = await makeManifest();
    const config = JSON.parse(convert(manifest, layers).config.toString());
    expect(config.history).toHaveLength(3);
    expect(config.history[0].created_by).toBe("/bin/sh -c #(nop) ADD file:base in / ");
    expect(config.history[0].empty_layer).toBeUndefined();
    expect(config.history[2].empty_layer).toBe(true);
    expect(config.history[2].created).toBe("2024-01-01T00:00:00.000Z");
  });

  it("manifest names the config and applied layers", async () => {
    const { manifest, layers } = await makeManifest();
    const converted = convert(manifest, layers);
    const document = JSON.parse(converted.manifest.toString());

    expect(document.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(document.config).toEqual(converted.configDescriptor);
    expect(document.config.digest).toBe(sha256Digest(converted.config));
    expect(document.layers).toEqual([
      {
        mediaType: mediaTypes.ociLayerGzip,
        digest: layers[0]!.layer.digest,
        size: layers[0]!.layer.size,
      },
      {
        mediaType: mediaTypes.ociLayerGzip,
        digest: layers[1]!.layer.digest,
        size: layers[1]!.layer.size,
      },
    ]);
    expect(converted.manifestDescriptor.digest).toBe(sha256Digest(converted.manifest));
  });

  it("gives the same bytes twice", async () => {
    const { manifest, layers } = await makeManifest();
    expect(convert(manifest, layers).manifest.equals(convert(manifest, layers).manifest)).toBe(
      true,
    );
  });
});
