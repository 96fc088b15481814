import { Builder } from "flatbuffers";

import { gzip, makeBlob, makeJsonBlob, makeLayerTar, mediaTypes, sha256Digest, type ImageBlob, type TarEntry } from "../harness/image-builder.js";
import { pushBlob, pushManifest } from "../harness/push.js";
import { encodeGzipZinfo, encodeSharedEntryToc, type ZtocPlan } from "../harness/ztoc-writer.js";
import { noise, sampleEntries } from "../layer/toc/toc-fixtures.js";
import { SOCI_LAYER_DIGEST, SOCI_V1_ARTIFACT_TYPE, SOCI_V2_CONFIG_TYPE, type GzipLayer } from "./soci-images.js";

// Builders of broken SOCI indexes and zTOCs for the hostile end-to-end tests.

/** A zTOC descriptor of a SOCI index: the fields a test may make lie. */
export interface ZtocDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

const emptyConfig = makeBlob(SOCI_V1_ARTIFACT_TYPE, Buffer.from("{}"));

/**
 * Returns `size` bytes of words drawn from a small vocabulary, deterministic
 * for a seed. Node's gzip compresses such text about 6:1, with
 * back-references across the whole 32 KiB window, so inflating from a
 * checkpoint inside it needs the checkpoint's window.
 */
export function words(size: number, seed: number): Buffer {
  const vocabulary = Array.from({ length: 400 }, (_, i) => noise(4 + (i % 7), seed * 1000 + i).toString("hex"));
  // xorshift32, whose every bit is well mixed, unlike the low bits of a power-of-two LCG.
  let state = (seed * 2654435761) | 1;
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const word = vocabulary[(state >>> 0) % vocabulary.length]!;
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(" ")).subarray(0, size);
}

/** Returns the sample entries plus incompressible files and text, about 2 MiB of tar. */
export function hostileEntries(variant: string): TarEntry[] {
  const entries = sampleEntries();
  entries.push({ type: "directory", path: "bulk" });
  for (let n = 0; n < 4; n++) entries.push({ type: "file", path: `bulk/file-${n}.bin`, content: noise(150_000, 700 + n) });
  entries.push({ type: "file", path: "bulk/words.txt", content: words(600_000, 9) });
  entries.push({ type: "file", path: "bulk/text.txt", content: "line of text\n".repeat(30_000) });
  entries.push({ type: "file", path: "variant.txt", content: `${variant}\n` });
  return entries;
}

export async function gzipLayerOf(entries: readonly TarEntry[]): Promise<GzipLayer> {
  const tar = await makeLayerTar(entries);
  return { ...makeBlob(mediaTypes.ociLayerGzip, gzip(tar)), diffId: sha256Digest(tar) };
}

/**
 * Builds a layer of two gzip members: the first contains the tar's first
 * `split` bytes, the second the rest. Returns the blob and its tar.
 */
export async function twoMemberLayerOf(entries: readonly TarEntry[], split: number): Promise<GzipLayer & { tar: Buffer }> {
  const tar = await makeLayerTar(entries);
  const bytes = Buffer.concat([gzip(tar.subarray(0, split)), gzip(tar.subarray(split))]);
  return { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), tar };
}

/** Pushes a zTOC blob and returns its descriptor, annotated with the layer it describes. */
export async function pushZtoc(host: string, repository: string, bytes: Buffer, layerDigest: string): Promise<ZtocDescriptor> {
  const blob = makeBlob("application/octet-stream", bytes);
  await pushBlob(host, repository, blob.bytes);
  return {
    mediaType: blob.mediaType,
    digest: blob.digest,
    size: blob.size,
    annotations: { [SOCI_LAYER_DIGEST]: layerDigest, "com.amazon.soci.image-layer-mediaType": mediaTypes.ociLayerGzip },
  };
}

/**
 * Pushes a SOCI index manifest with the given zTOC descriptors as they are,
 * true or not, and returns the manifest. A v1 index gets `subject`.
 */
export async function pushIndexOf(
  host: string,
  repository: string,
  options: { version: "v1" | "v2"; subject?: ImageBlob; ztocs: readonly ZtocDescriptor[] },
): Promise<ImageBlob> {
  await pushBlob(host, repository, emptyConfig.bytes);
  const configType = options.version === "v1" ? SOCI_V1_ARTIFACT_TYPE : SOCI_V2_CONFIG_TYPE;
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: { mediaType: configType, digest: emptyConfig.digest, size: emptyConfig.size },
    layers: options.ztocs,
  };
  if (options.version === "v1") {
    document.artifactType = SOCI_V1_ARTIFACT_TYPE;
    if (options.subject) {
      const { mediaType, digest, size } = options.subject;
      document.subject = { mediaType, digest, size };
    }
  }
  const index = makeJsonBlob(mediaTypes.ociManifest, document);
  await pushManifest(host, repository, index.digest, index.bytes, index.mediaType);
  return index;
}

/** Pushes a manifest by its digest. */
export async function pushByDigest(host: string, repository: string, manifest: ImageBlob): Promise<void> {
  await pushManifest(host, repository, manifest.digest, manifest.bytes, manifest.mediaType);
}

/**
 * Encodes a zTOC whose FileMetadata vector has `count` references to one
 * shared table, a folder named "f". A FlatBuffer may share a table, so the
 * zTOC stays small (4 bytes per entry) while listing any number of entries.
 * The sizes and checkpoints come from `plan`, the plan of the real layer.
 */
export function sharedEntryZtoc(plan: ZtocPlan, count: number): Buffer {
  const builder = new Builder(count * 4 + 1024 * 1024);
  const version = builder.createString(plan.version);
  const buildTool = builder.createString(plan.buildTool);

  const toc = encodeSharedEntryToc(builder, "f", count);

  const checkpoints = builder.createByteVector(encodeGzipZinfo(plan));
  const digestStrings = plan.spanDigests.map((digest) => builder.createString(digest));
  builder.startVector(4, digestStrings.length, 4);
  for (let i = digestStrings.length - 1; i >= 0; i--) builder.addOffset(digestStrings[i]!);
  const spanDigests = builder.endVector();

  builder.startObject(4);
  builder.addFieldInt32(1, plan.maxSpanId, 0);
  builder.addFieldOffset(2, spanDigests, 0);
  builder.addFieldOffset(3, checkpoints, 0);
  const compressionInfo = builder.endObject();

  builder.startObject(6);
  builder.addFieldOffset(0, version, 0);
  builder.addFieldOffset(1, buildTool, 0);
  builder.addFieldOffset(4, toc, 0);
  builder.addFieldInt64(2, BigInt(plan.compressedSize), 0n);
  builder.addFieldInt64(3, BigInt(plan.uncompressedSize), 0n);
  builder.addFieldOffset(5, compressionInfo, 0);
  builder.finish(builder.endObject());
  return Buffer.from(builder.asUint8Array());
}
