import { symlink, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import {
  gzip,
  makeBlob,
  makeImageConfig,
  makeLayer,
  makeLayerTar,
  mediaTypes,
  sha256Digest,
  type ImageBlob,
  type LayerBlob,
  type TarEntry,
} from "../harness/image-builder.js";
import { pushImage, type PushedImage } from "../harness/push.js";
import { requireTool, runCommand, withTempDir } from "../harness/tools.js";

/*
 * Images whose layers contain the tar cases that are easy to get wrong: odd
 * names, path normalization, links of every kind, skipped entry types,
 * whiteouts, and each layer compression and empty-layer shape. The layer
 * edge-case test and the umoci comparison push the same images.
 */

export const edgeRepository = "edge/cases";
export const whiteoutRepository = "edge/whiteouts";

/** Names that need percent-encoding in a URL or escaping in XML. */
export const specialNames = [
  "with space.txt",
  "hash#mark.txt",
  "question?mark.txt",
  "percent%41.txt",
  "colon:name.txt",
  'double"quote.txt',
  "single'quote.txt",
  "less<than>.txt",
  "amp&ersand.txt",
  "plus+sign.txt",
  "unicode-é漢字🙂.txt",
];

/** A single name component of 154 characters: longer than ustar's 100-byte name field. */
export const paxLongName = `${"p".repeat(150)}.txt`;
/** A path of 318 characters: longer than ustar's name and prefix fields together. */
export const paxDeepPath = `long/${`${"d".repeat(60)}/`.repeat(5)}deep.txt`;
/** A name that GNU tar stores in a `././@LongLink` member. */
export const gnuLongName = `${"g".repeat(150)}.txt`;

/** The modification time of etc/os-release, to check getlastmodified. */
const osReleaseMtime = new Date("2021-05-06T07:08:09Z");

/**
 * Docker's empty layer, sha256:a3ed95caeb02..., which its schema1 manifests
 * list for steps without file changes: a gzip of 1024 zero bytes.
 */
const dockerEmptyGzipLayer = Buffer.from(
  "1f8b080000096e8800ff621805a360148c5800080000ffff2eafb5ef00040000",
  "hex",
);

/** Base layer: names, normalization, duplicates, links, devices and a fifo. */
function baseEntries(): TarEntry[] {
  const entries: TarEntry[] = [
    { type: "directory", path: "etc", mtime: new Date("2022-02-03T04:05:06Z") },
    { type: "file", path: "etc/passwd", content: "root:x:0:0:image root:/root:/bin/sh\n" },
    { type: "file", path: "etc/os-release", content: "ID=edge\n", mtime: osReleaseMtime },
    { type: "file", path: "etc/dup", content: "first\n" },
    { type: "directory", path: "usr" },
    { type: "directory", path: "usr/bin" },
    { type: "file", path: "usr/bin/tool", content: "tool v1\n", mode: 0o755 },
    { type: "hardlink", path: "usr/bin/tool-hard", target: "usr/bin/tool" },
    { type: "directory", path: "usr/share" },
    { type: "file", path: "usr/share/doc.txt", content: "needle in usr/share\n" },
    { type: "file", path: "usr/share/info.txt", content: "info page\n" },
    // Read as bin/info-link, its `..` must start from usr/bin, where the link is.
    { type: "symlink", path: "usr/bin/info-link", target: "../share/info.txt" },
    // Points at usr, the parent of the folder holding the link.
    { type: "symlink", path: "usr/share/up", target: ".." },
    { type: "symlink", path: "bin", target: "usr/bin" },
    { type: "symlink", path: "etc/passwd-link", target: "/etc/passwd" },
    { type: "symlink", path: "etc/tool-link", target: "../usr/bin/tool" },
    { type: "symlink", path: "etc/dangling", target: "/no/such/file" },
    { type: "symlink", path: "etc/loop-a", target: "loop-b" },
    { type: "symlink", path: "etc/loop-b", target: "loop-a" },
    { type: "symlink", path: "etc/escape", target: "../../../../etc/passwd" },
    // The host has both files and the image has neither, so these links must dangle.
    { type: "symlink", path: "etc/escape-missing", target: "../../../../etc/shadow" },
    { type: "symlink", path: "etc/escape-absolute", target: "/../../../etc/hostname" },
    { type: "directory", path: "./dotted" },
    { type: "file", path: "./dotted/file.txt", content: "dotted\n" },
    { type: "file", path: "/abs/file.txt", content: "absolute\n" },
    { type: "file", path: "../../up/outside.txt", content: "clamped\n" },
    { type: "directory", path: "long" },
    { type: "file", path: `long/${paxLongName}`, content: "pax long name\n" },
    { type: "file", path: paxDeepPath, content: "pax deep path\n" },
    { type: "directory", path: "names" },
    { type: "directory", path: "names/dir with space#" },
    { type: "file", path: "names/dir with space#/inner.txt", content: "inner\n" },
    { type: "directory", path: "dev" },
    { type: "char-device", path: "dev/null", devmajor: 1, devminor: 3 },
    { type: "block-device", path: "dev/sda", devmajor: 8, devminor: 0 },
    { type: "directory", path: "run" },
    { type: "fifo", path: "run/fifo" },
    { type: "file", path: "etc/dup", content: "second\n" },
  ];
  for (const name of specialNames) {
    entries.push({ type: "file", path: `names/${name}`, content: `content of ${name}\n` });
  }
  return entries;
}

/**
 * Second layer: hardlinks to files of the base layer, and a path replaced
 * again. opt/dup-link links etc/dup before this layer replaces it, so the
 * link keeps the base layer's content, as when the tar is unpacked in order.
 */
function upperEntries(): TarEntry[] {
  return [
    { type: "directory", path: "opt" },
    { type: "hardlink", path: "opt/tool-hard-lower", target: "usr/bin/tool" },
    { type: "hardlink", path: "opt/dup-link", target: "etc/dup" },
    { type: "file", path: "etc/dup", content: "third\n" },
    { type: "file", path: "usr/bin/tool2", content: "tool two\n" },
  ];
}

/** Builds a gzip layer of two gzip members, split at a 512-byte block boundary. */
async function makeMultiMemberGzipLayer(entries: readonly TarEntry[]): Promise<LayerBlob> {
  const tar = await makeLayerTar(entries);
  const split = Math.floor(tar.length / 1024) * 512;
  const bytes = Buffer.concat([gzip(tar.subarray(0, split)), gzip(tar.subarray(split))]);
  return layerFromTar(tar, bytes, mediaTypes.ociLayerGzip);
}

function layerFromTar(uncompressed: Buffer, bytes: Buffer, mediaType: string): LayerBlob {
  return { ...makeBlob(mediaType, bytes), diffId: sha256Digest(uncompressed), uncompressed };
}

/**
 * Builds a layer with GNU tar 1.34 in GNU format, so the long name and the
 * long link target are stored in `././@LongLink` members (types L and K).
 */
async function makeGnuLongNameLayer(): Promise<LayerBlob> {
  const tar = await requireTool("tar");
  return withTempDir("gnu-tar", async (dir) => {
    await mkdir(join(dir, "gnu"));
    await writeFile(join(dir, "gnu", gnuLongName), "gnu long name\n");
    await symlink(`/gnu/${gnuLongName}`, join(dir, "gnu", "long-link"));
    const args = ["--format=gnu", "--owner=0", "--group=0", "--numeric-owner", "--sort=name"];
    args.push("--mtime=2024-01-01 00:00:00Z", "-C", dir, "-cf", "-", "gnu");
    const { stdout } = await runCommand(tar, args);
    return layerFromTar(stdout, gzip(stdout), mediaTypes.ociLayerGzip);
  });
}

/** Builds the three shapes of an empty layer: 0 bytes, Docker's 32-byte gzip, one tar record. */
function makeEmptyLayers(): LayerBlob[] {
  const record = Buffer.alloc(10240);
  return [
    layerFromTar(Buffer.alloc(0), Buffer.alloc(0), mediaTypes.ociLayer),
    layerFromTar(Buffer.alloc(1024), dockerEmptyGzipLayer, mediaTypes.ociLayerGzip),
    layerFromTar(record, record, mediaTypes.ociLayer),
  ];
}

export interface EdgeImage {
  pushed: PushedImage;
  config: ImageBlob;
  /** Bottom first: multi-member gzip, zstd, uncompressed, GNU tar, then the three empty layers. */
  layers: LayerBlob[];
}

/** Builds and pushes the image of every tar edge case as `edge/cases:<tag>`. */
export async function pushEdgeImage(host: string, tag: string): Promise<EdgeImage> {
  const layers = [
    await makeMultiMemberGzipLayer(baseEntries()),
    await makeLayer(upperEntries(), { compression: "zstd" }),
    await makeLayer([{ type: "file", path: "srv/plain.txt", content: "uncompressed layer\n" }], {
      compression: "none",
    }),
    await makeGnuLongNameLayer(),
    ...makeEmptyLayers(),
  ];
  const config = makeImageConfig({ layers });
  const pushed = await pushImage(host, edgeRepository, tag, { layers, config, format: "oci" });
  return { pushed, config, layers };
}

/**
 * Builds and pushes three layers of whiteouts and opaque folders as
 * `edge/whiteouts:<tag>`. The merged rootfs contains a/keep.txt, a/gone.txt
 * ("back"), b/third.txt, an empty c/, d/y.txt and an empty e/.
 */
export async function pushWhiteoutImage(host: string, tag: string): Promise<LayerBlob[]> {
  const layers = [
    await makeLayer([
      { type: "directory", path: "a" },
      { type: "file", path: "a/keep.txt", content: "keep\n" },
      { type: "file", path: "a/gone.txt", content: "gone\n" },
      { type: "directory", path: "b" },
      { type: "file", path: "b/old1.txt", content: "old1\n" },
      { type: "directory", path: "b/sub" },
      { type: "file", path: "b/sub/old2.txt", content: "old2\n" },
      { type: "directory", path: "c" },
      { type: "file", path: "c/file.txt", content: "c file\n" },
      { type: "directory", path: "d" },
      { type: "file", path: "d/x.txt", content: "x\n" },
    ]),
    await makeLayer([
      { type: "file", path: "a/.wh.gone.txt" },
      { type: "directory", path: "b" },
      { type: "file", path: "b/.wh..wh..opq" },
      { type: "file", path: "b/new.txt", content: "new\n" },
      { type: "file", path: "c/.wh.file.txt" },
      { type: "file", path: ".wh.d" },
      { type: "directory", path: "e" },
      { type: "file", path: "e/added.txt", content: "added\n" },
    ]),
    await makeLayer(
      [
        { type: "file", path: "a/gone.txt", content: "back\n" },
        { type: "directory", path: "b" },
        { type: "file", path: "b/.wh..wh..opq" },
        { type: "file", path: "b/third.txt", content: "third\n" },
        { type: "directory", path: "d" },
        { type: "file", path: "d/y.txt", content: "y\n" },
        { type: "file", path: "e/.wh.added.txt" },
      ],
      { compression: "gzip" },
    ),
  ];
  const config = makeImageConfig({ layers });
  await pushImage(host, whiteoutRepository, tag, { layers, config, format: "oci" });
  return layers;
}

export const overlayRepository = "edge/overlay";

/**
 * Builds and pushes two layers whose paths change kind between layers, a
 * whiteout beside the file it names, hardlinks whose targets lie outside
 * the image, and a hardlink in the base layer to a missing file, as
 * `edge/overlay:<tag>`. umoci rejects the hardlink, so
 * this image is not part of the umoci comparison.
 */
export async function pushOverlayImage(host: string, tag: string): Promise<LayerBlob[]> {
  const layers = [
    await makeLayer([
      { type: "directory", path: "swap" },
      { type: "file", path: "swap/file-to-dir", content: "was a file\n" },
      { type: "directory", path: "swap/dir-to-file" },
      { type: "file", path: "swap/dir-to-file/inner.txt", content: "was inside\n" },
      { type: "directory", path: "same" },
      { type: "file", path: "same/lower.txt", content: "lower\n" },
      { type: "hardlink", path: "hard-base/missing", target: "nowhere/file" },
    ]),
    await makeLayer([
      { type: "directory", path: "swap/file-to-dir" },
      { type: "file", path: "swap/file-to-dir/inner.txt", content: "now a folder\n" },
      { type: "file", path: "swap/dir-to-file", content: "now a file\n" },
      // A whiteout hides lower layers only, never a file of its own layer.
      { type: "file", path: "same/kept.txt", content: "kept\n" },
      { type: "file", path: "same/.wh.kept.txt" },
      { type: "file", path: "same/.wh.lower.txt" },
      { type: "directory", path: "hard" },
      { type: "hardlink", path: "hard/escape", target: "../../../etc/hostname" },
      { type: "hardlink", path: "hard/absolute", target: "/etc/hostname" },
    ]),
  ];
  const config = makeImageConfig({ layers });
  await pushImage(host, overlayRepository, tag, { layers, config, format: "oci" });
  return layers;
}
