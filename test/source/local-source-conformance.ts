import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { mediaTypes } from "../harness/image-builder.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import type {
  BlobDescriptor,
  BlobSizeLookup,
  ImageSource,
  RepositoryLister,
} from "../../src/source/image-source.js";
import { openLocalSource } from "../../src/source/open-local-source.js";
import {
  buildTestImages,
  testSourceName,
  type TestImage,
  type TestImageSet,
} from "./local-images.js";

/**
 * The tests that every local source must pass: the same images, written in
 * the source's format, must give the same repositories, tags, configs and
 * layers, each blob under a digest that its bytes hash to.
 */

export type LocalSource = ImageSource & RepositoryLister & BlobSizeLookup;

export interface LocalSourceFormat {
  /** Writes the images into `folder` and returns the path to open. */
  write(folder: string, images: TestImageSet): Promise<string>;
  /** Opens the written path, with openLocalSource unless given. */
  open?(path: string): Promise<LocalSource>;
  /** The manifest digest the source must serve for an image. */
  manifestDigestOf(image: TestImage): string;
  /** The media type of the manifests the source serves. */
  manifestMediaType: string;
}

interface ParsedManifest {
  config: BlobDescriptor;
  layers: BlobDescriptor[];
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function hashOf(digest: string, bytes: Buffer): string {
  const algorithm = digest.slice(0, digest.indexOf(":"));
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

function uncompress(mediaType: string | undefined, bytes: Buffer): Buffer {
  return mediaType?.endsWith("gzip") ? gunzipSync(bytes) : bytes;
}

export function describeLocalSourceConformance(label: string, format: LocalSourceFormat): void {
  describe(`${label} conformance`, () => {
    let dir: TempDir;
    let path: string;
    let images: TestImageSet;
    let source: LocalSource;
    const open = (at: string) =>
      format.open ? format.open(at) : (openLocalSource(testSourceName, at) as Promise<LocalSource>);

    beforeAll(async () => {
      dir = await makeTempDir("local-source");
      images = await buildTestImages();
      path = await format.write(dir.path, images);
      source = await open(path);
    });

    afterAll(async () => {
      await dir.remove();
    });

    const manifestOf = async (repository: string, image: TestImage): Promise<ParsedManifest> => {
      const manifest = await source.getManifest(repository, format.manifestDigestOf(image));
      return JSON.parse(manifest.bytes.toString("utf8")) as ParsedManifest;
    };

    it("lists every repository", async () => {
      const expected = [...Object.keys(images.tagsByRepository), testSourceName].sort();
      expect(await source.listRepositories()).toEqual(expected);
    });

    it("lists the tags of each repository", async () => {
      for (const [repository, tags] of Object.entries(images.tagsByRepository)) {
        expect(await source.listTags(repository)).toEqual(tags);
      }
      expect(await source.listTags(testSourceName)).toEqual([]);
    });

    it("serves each tag's manifest under its digest", async () => {
      for (const image of images.images) {
        for (const [repository, tag] of image.tags) {
          const manifest = await source.getManifest(repository, tag);
          expect(manifest.digest).toBe(hashOf(manifest.digest, manifest.bytes));
          expect(manifest.digest).toBe(format.manifestDigestOf(image));
          expect(manifest.mediaType).toBe(format.manifestMediaType);
        }
      }
    });

    it("serves the same manifest by digest", async () => {
      const [repository, tag] = images.images[0]!.tags[0]!;
      const byTag = await source.getManifest(repository, tag);
      const byDigest = await source.getManifest(repository, byTag.digest);
      expect(byDigest.bytes).toEqual(byTag.bytes);
      expect(byDigest.mediaType).toBe(byTag.mediaType);
    });

    it("reaches an untagged image by digest", async () => {
      const untagged = images.images.find((image) => image.names.length === 0)!;
      const manifest = await source.getManifest(testSourceName, format.manifestDigestOf(untagged));
      expect(manifest.digest).toBe(format.manifestDigestOf(untagged));
    });

    it("serves each config with its digest and bytes", async () => {
      for (const image of images.images) {
        const { config } = await manifestOf(testSourceName, image);
        expect(config.digest).toBe(image.config.digest);
        expect(config.size).toBe(image.config.size);
        expect(await readAll(await source.openBlob(testSourceName, config))).toEqual(
          image.config.bytes,
        );
      }
    });

    it("serves each layer under a digest of its bytes", async () => {
      for (const image of images.images) {
        const { layers } = await manifestOf(testSourceName, image);
        expect(layers).toHaveLength(image.layers.length);
        for (const [position, layer] of layers.entries()) {
          const bytes = await readAll(await source.openBlob(testSourceName, layer));
          expect(hashOf(layer.digest, bytes)).toBe(layer.digest);
          expect(bytes.length).toBe(layer.size);
          expect(uncompress(layer.mediaType, bytes)).toEqual(image.layers[position]!.uncompressed);
        }
      }
    });

    it("returns blob sizes", async () => {
      const image = images.images[0]!;
      const { config, layers } = await manifestOf(testSourceName, image);
      expect(await source.statBlob(testSourceName, config.digest)).toBe(image.config.size);
      expect(await source.statBlob(testSourceName, layers[0]!.digest)).toBe(layers[0]!.size);
    });

    it("builds the same manifests when reopened", async () => {
      const again = await open(path);
      for (const image of images.images) {
        const [repository, tag] = image.tags[0] ?? [testSourceName, format.manifestDigestOf(image)];
        expect((await again.getManifest(repository, tag)).digest).toBe(
          format.manifestDigestOf(image),
        );
      }
    });

    it("rejects unknown tags, repositories and digests", async () => {
      const missing = `sha256:${"0".repeat(64)}`;
      await expect(source.getManifest("library/web", "nope")).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      await expect(source.listTags("library/absent")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(source.getManifest("library/absent", "1.0")).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      await expect(source.getManifest("library/web", missing)).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      await expect(source.openBlob("library/web", { digest: missing })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      await expect(source.statBlob("library/web", missing)).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    });

    it("rejects digests that could name another path", async () => {
      const digests = [
        "sha256:../../../etc/passwd",
        "sha256:ABC",
        "md5:00",
        "sha256/../../index.json",
        "../oci-layout",
      ];
      for (const digest of digests) {
        await expect(source.openBlob("library/web", { digest })).rejects.toMatchObject({
          code: "BAD_REQUEST",
        });
        await expect(source.statBlob("library/web", digest)).rejects.toMatchObject({
          code: "BAD_REQUEST",
        });
      }
      for (const digest of digests.filter((text) => text.includes(":"))) {
        await expect(source.getManifest("library/web", digest)).rejects.toMatchObject({
          code: "BAD_REQUEST",
        });
      }
    });

    it("rejects a descriptor with the wrong size", async () => {
      const { config } = await manifestOf(testSourceName, images.images[0]!);
      const attempt = source.openBlob(testSourceName, { ...config, size: config.size! + 1 });
      await expect(attempt).rejects.toMatchObject({ code: "SIZE_MISMATCH" });
    });
  });
}

export const ociManifestType = mediaTypes.ociManifest;
export const dockerManifestType = mediaTypes.dockerManifest;
