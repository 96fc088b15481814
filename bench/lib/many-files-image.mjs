// An image of one gzip layer with 300,000 small files, shaped like a large
// node_modules tree, for the memory a listing of many entries takes. It is
// generated here with tar-stream, once, as an OCI layout under the work
// folder, and pushed with skopeo.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { createGzip } from "node:zlib";
import tar from "tar-stream";

import { skopeoCopy } from "./skopeo.mjs";

/** Registry repository and tag of the image. */
const manyFilesNames = { repository: "bench/many-files", tag: "latest" };

const FILE_COUNT = 300_000;
/** Files per package folder, and per subfolder of a package. */
const FILES_PER_PACKAGE = 1000;
const FILES_PER_SUBFOLDER = 50;

/** Returns the folder of file `i`, such as `usr/lib/node_modules/pkg0012/lib/sub03`. */
function folderOf(i) {
  const pkg = String(Math.floor(i / FILES_PER_PACKAGE)).padStart(4, "0");
  const sub = String(Math.floor((i % FILES_PER_PACKAGE) / FILES_PER_SUBFOLDER)).padStart(2, "0");
  return `usr/lib/node_modules/pkg${pkg}/lib/sub${sub}`;
}

/** Yields every tar entry: each folder before the first file in it, then the files. */
function* layerEntries() {
  const folders = new Set();
  for (let i = 0; i < FILE_COUNT; i++) {
    const folder = folderOf(i);
    const segments = folder.split("/");
    for (let depth = 1; depth <= segments.length; depth++) {
      const path = segments.slice(0, depth).join("/");
      if (folders.has(path)) continue;
      folders.add(path);
      yield { header: { name: `${path}/`, type: "directory", mode: 0o755, mtime: new Date(0) } };
    }
    const name = `${folder}/module-file-${String(i).padStart(7, "0")}.js`;
    yield { header: { name, size: 4, mode: 0o644, mtime: new Date(0) }, content: "x=1\n" };
  }
}

/** Writes the layer blob into `blobsDir`; returns its digest and sizes, the diff ID and the counts. */
async function writeLayer(blobsDir) {
  const pack = tar.pack();
  const tarHash = createHash("sha256");
  const blobHash = createHash("sha256");
  const blobChunks = [];
  let uncompressedSize = 0;
  let entries = 0;
  let lastFile = "";
  const produce = (async () => {
    for (const entry of layerEntries()) {
      entries++;
      if (entry.content !== undefined) lastFile = `/${entry.header.name}`;
      await new Promise((resolve, reject) => {
        pack.entry(entry.header, entry.content ?? null, (error) => (error ? reject(error) : resolve()));
      });
    }
    pack.finalize();
  })();
  const countTar = async function* (chunks) {
    for await (const chunk of chunks) {
      tarHash.update(chunk);
      uncompressedSize += chunk.length;
      yield chunk;
    }
  };
  const collect = new Writable({
    write(chunk, _encoding, callback) {
      blobHash.update(chunk);
      blobChunks.push(chunk);
      callback();
    },
  });
  await Promise.all([produce, pipeline(pack, countTar, createGzip({ level: 6 }), collect)]);
  const blob = Buffer.concat(blobChunks);
  const hex = blobHash.digest("hex");
  await writeFile(join(blobsDir, hex), blob);
  return {
    digest: `sha256:${hex}`,
    compressedSize: blob.length,
    uncompressedSize,
    diffId: `sha256:${tarHash.digest("hex")}`,
    entries,
    lastFile,
  };
}

/** Writes a JSON blob into `blobsDir`; returns its descriptor fields. */
async function writeJsonBlob(blobsDir, value) {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash("sha256").update(bytes).digest("hex");
  await writeFile(join(blobsDir, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Builds the OCI layout in `dir`; returns the image description without the registry names. */
async function buildLayout(dir) {
  const blobsDir = join(dir, "blobs", "sha256");
  await mkdir(blobsDir, { recursive: true });
  const layer = await writeLayer(blobsDir);
  const config = await writeJsonBlob(blobsDir, {
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
  });
  const manifest = await writeJsonBlob(blobsDir, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.compressedSize }],
  });
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "org.opencontainers.image.ref.name": manyFilesNames.tag },
      }],
    }),
  );
  const description = {
    layers: [layer.digest],
    compressedSize: layer.compressedSize,
    uncompressedSize: layer.uncompressedSize,
    entries: layer.entries,
    files: FILE_COUNT,
    lastFile: layer.lastFile,
  };
  await writeFile(join(dir, "description.json"), JSON.stringify(description));
  return description;
}

/**
 * Builds the image once under `work` (about 15 s on a 2-core machine), pushes
 * it and returns the image description that the suites use.
 */
export async function prepareManyFilesImage(ctx, work) {
  const dir = join(work, "many-files");
  if (!existsSync(join(dir, "description.json"))) {
    ctx.progress(`generating an image of ${FILE_COUNT} files into ${dir}`);
    const partial = `${dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await buildLayout(partial);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  }
  const { repository, tag } = manyFilesNames;
  await skopeoCopy(ctx.skopeo, `oci:${dir}:${tag}`, `docker://${ctx.registry.host}/${repository}:${tag}`, {
    tlsFlag: "--dest-tls-verify=false",
  });
  const description = JSON.parse(await readFile(join(dir, "description.json"), "utf8"));
  return { ...description, repository, tag, name: "many files" };
}
