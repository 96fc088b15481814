// The SOCI-enabled copy of the Debian image and the suite that reads it. The
// copy has the same gzip layer and config as the gzip image, and its manifest
// names a SOCI index (index manifest v2) whose zTOCs let regdav list the
// layer and read files by Range without downloading the layer. No soci CLI
// is installed here, so the zTOCs come from the test suite's writer,
// test/harness/ztoc-writer.ts, compiled once into the work folder.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { startCountingProxy } from "./counting-proxy.mjs";
import { firstCatPullUnpack, firstCatRegdav, rootfsUrl, streamBound } from "./first-cat.mjs";
import { startRegdav } from "./regdav.mjs";
import { formatBytes, median } from "./stats.mjs";
import { timedGet } from "./webdav-client.mjs";

/** This checkout, which contains the zTOC writer even when REGDAV_BENCH_REGDAV measures another one. */
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const writerSource = join(repoRoot, "test", "harness", "ztoc-writer.ts");

/** Registry repository and tag of the SOCI-enabled copy. */
const sociNames = { repository: "bench/debian", tag: "bookworm-soci" };

/** Uncompressed bytes between zTOC checkpoints: soci's default (`soci create --span-size`). */
const SPAN_SIZE = 4 * 1024 * 1024;

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const GZIP_LAYER_TYPES = ["application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip"];
/** Config media type of a SOCI index manifest v2. */
const SOCI_INDEX_V2_CONFIG = "application/vnd.amazon.soci.index.v2+json";
const SOCI_INDEX_DIGEST = "com.amazon.soci.index-digest";
const SOCI_LAYER_DIGEST = "com.amazon.soci.image-layer-digest";
const SOCI_LAYER_MEDIA_TYPE = "com.amazon.soci.image-layer-mediaType";

/**
 * Makes a zTOC of each layer of the gzip image once, under `work`, then
 * pushes the zTOCs, the SOCI index and the SOCI-enabled image manifest.
 * Returns the image description the suite uses, with the gzip image as
 * `gzipTwin` and the zTOC descriptors as `ztocs`.
 *
 * The image manifest is the gzip image's manifest plus the
 * `com.amazon.soci.index-digest` annotation, tagged directly. `soci convert`
 * also wraps it in an image index next to the SOCI index
 * (soci-snapshotter docs/soci-index-manifest-v2.md), which regdav does not
 * need to find the index.
 */
export async function prepareSociImage(ctx, work, layout, gzipImage) {
  const { manifest: gzipManifest, mediaType } = await fetchManifest(ctx.registry.url, gzipImage.repository, gzipImage.tag);
  if (mediaType !== OCI_MANIFEST) {
    throw new Error(`${gzipImage.repository}:${gzipImage.tag} has a manifest of media type ${mediaType}, but only an OCI manifest (${OCI_MANIFEST}) carries the SOCI annotation`);
  }
  for (const layer of gzipManifest.layers) {
    if (!GZIP_LAYER_TYPES.includes(layer.mediaType)) {
      throw new Error(`layer ${layer.digest} of ${gzipImage.repository}:${gzipImage.tag} has media type ${layer.mediaType}, but a zTOC needs a gzip layer`);
    }
  }
  const dir = join(work, "bookworm-soci");
  await mkdir(dir, { recursive: true });
  const ztocFiles = [];
  for (const layer of gzipManifest.layers) {
    ztocFiles.push({ layer, path: await ensureZtoc(ctx, work, layout, dir, layer.digest) });
  }

  // Pushed on every run, so the tag names these zTOCs even after they were
  // built again. Blobs the registry already has are not uploaded twice.
  const { repository, tag } = sociNames;
  const ztocs = [];
  for (const { layer, path } of ztocFiles) {
    const bytes = await readFile(path);
    const digest = await pushBlob(ctx.registry.url, repository, bytes);
    ztocs.push({ layer: layer.digest, layerMediaType: layer.mediaType, digest, size: bytes.length });
  }
  const indexDigest = await pushSociIndex(ctx.registry.url, repository, ztocs);
  const imageManifest = {
    ...gzipManifest,
    annotations: { ...gzipManifest.annotations, [SOCI_INDEX_DIGEST]: indexDigest },
  };
  await pushManifest(ctx.registry.url, repository, tag, imageManifest);
  return {
    ...gzipImage,
    repository,
    tag,
    name: "bookworm SOCI",
    layers: gzipManifest.layers.map((layer) => layer.digest),
    compressedSize: gzipManifest.layers.reduce((sum, layer) => sum + layer.size, 0),
    gzipTwin: gzipImage,
    ztocs,
  };
}

/**
 * Returns the path of the zTOC of one layer under `dir`, building it from
 * the layout's blob when it is missing or older than the writer's source.
 */
async function ensureZtoc(ctx, work, layout, dir, layerDigest) {
  const [algorithm, hex] = layerDigest.split(":");
  const path = join(dir, `${hex}.ztoc`);
  if (existsSync(path) && statSync(path).mtimeMs >= statSync(writerSource).mtimeMs) return path;

  const { buildZtoc } = await import(pathToFileURL(await compileZtocWriter(ctx, work)).href);
  const blobPath = join(layout, "blobs", algorithm, hex);
  ctx.progress(`building the zTOC of ${blobPath} into ${path}`);
  const blob = await readFile(blobPath);
  const { bytes } = buildZtoc(blob, { spanSize: SPAN_SIZE, buildTool: "regdav bench soci-image.mjs" });
  const partial = `${path}.partial`;
  await writeFile(partial, bytes);
  await rename(partial, path);
  return path;
}

/**
 * Compiles test/harness/ztoc-writer.ts, and the src/ files it imports, into
 * `work/ztoc-writer/` unless the output is newer than the source, and
 * returns the path of the emitted ztoc-writer.js. The emitted files find
 * `flatbuffers` and `pako` in this checkout's node_modules, because the work
 * folder is inside it.
 */
async function compileZtocWriter(ctx, work) {
  const outDir = join(work, "ztoc-writer");
  const entry = join(outDir, "test", "harness", "ztoc-writer.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= statSync(writerSource).mtimeMs) return entry;

  ctx.progress(`compiling ${writerSource} into ${outDir}`);
  const partial = `${outDir}.partial`;
  await rm(partial, { recursive: true, force: true });
  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  const pakoTypes = join(repoRoot, "src", "layer", "random-access", "pako-zlib.d.ts");
  const args = [
    tsc,
    ...["--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--lib", "ES2022"],
    ...["--types", "node", "--strict", "--noUncheckedIndexedAccess", "--esModuleInterop", "--skipLibCheck"],
    ...["--rootDir", repoRoot, "--outDir", partial],
    writerSource,
    pakoTypes,
  ];
  // tsc finds @types/node from its working folder, and prints its errors on stdout.
  const result = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) {
    const status = result.error?.message ?? `exit code ${result.status}`;
    throw new Error(`compiling ${writerSource} with tsc failed with ${status}:\n${result.stdout}${result.stderr}`);
  }
  await rm(outDir, { recursive: true, force: true });
  await rename(partial, outDir);
  if (!existsSync(entry)) throw new Error(`tsc did not emit ${entry}`);
  return entry;
}

// --- Registry pushes -----------------------------------------------------

/** Returns a manifest and its media type, from the Content-Type, because skopeo leaves `mediaType` out of OCI manifests. */
async function fetchManifest(registryUrl, repository, reference) {
  const url = `${registryUrl}/v2/${repository}/manifests/${reference}`;
  const response = await fetch(url, { headers: { accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST}` } });
  if (response.status !== 200) throw new Error(`GET ${url} returned ${response.status}, expected 200`);
  const mediaType = response.headers.get("content-type");
  const manifest = await response.json();
  if (!Array.isArray(manifest.layers)) throw new Error(`GET ${url} returned a manifest without layers, of media type ${mediaType}`);
  return { manifest, mediaType };
}

function sha256(bytes) {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** Uploads a blob unless the repository has it (POST, then one PUT with the digest), and returns its digest. */
async function pushBlob(registryUrl, repository, bytes) {
  const digest = sha256(bytes);
  const head = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, { method: "HEAD" });
  if (head.status === 200) return digest;

  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  await start.arrayBuffer();
  const location = start.headers.get("location");
  if (start.status !== 202 || location === null) {
    throw new Error(`starting the upload of ${digest} to ${repository} returned ${start.status}, expected 202 with a Location`);
  }
  const uploadUrl = new URL(location, registryUrl);
  uploadUrl.searchParams.set("digest", digest);
  const put = await fetch(uploadUrl, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`uploading ${digest} to ${repository} returned ${put.status}, expected 201: ${text}`);
  return digest;
}

/** Puts an OCI manifest under `reference` and returns its digest, checked against the registry's Docker-Content-Digest. */
async function pushManifest(registryUrl, repository, reference, manifest) {
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256(bytes);
  const url = `${registryUrl}/v2/${repository}/manifests/${reference}`;
  const response = await fetch(url, {
    method: "PUT",
    headers: { "content-type": OCI_MANIFEST },
    body: bytes,
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`PUT ${url} returned ${response.status}, expected 201: ${text}`);
  const stored = response.headers.get("docker-content-digest");
  if (stored !== digest) throw new Error(`PUT ${url} stored the manifest as ${stored}, expected ${digest}`);
  return digest;
}

/**
 * Pushes the SOCI index manifest v2, by digest: the empty JSON object as
 * its config, and one zTOC layer per image layer, annotated with that
 * layer's digest and media type. It has no subject, because the image
 * manifest names it.
 */
async function pushSociIndex(registryUrl, repository, ztocs) {
  const config = Buffer.from("{}");
  const configDigest = await pushBlob(registryUrl, repository, config);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: SOCI_INDEX_V2_CONFIG, digest: configDigest, size: config.length },
    layers: ztocs.map((ztoc) => ({
      mediaType: "application/octet-stream",
      digest: ztoc.digest,
      size: ztoc.size,
      annotations: { [SOCI_LAYER_DIGEST]: ztoc.layer, [SOCI_LAYER_MEDIA_TYPE]: ztoc.layerMediaType },
    })),
  };
  const digest = sha256(Buffer.from(JSON.stringify(index)));
  return pushManifest(registryUrl, repository, digest, index);
}

// --- The suite -----------------------------------------------------------

/**
 * Per run, for each file: a GET through a fresh regdav, timed, and a
 * second GET through another fresh regdav behind a counting proxy, which
 * records what the first cat fetched from the registry. Then one pull and
 * unpack of the gzip image, and the stream bound of its layer. The timed
 * regdav reads the registry directly, as the other first-cat suites do.
 */
export async function firstCatSoci(ctx, image, runs) {
  const files = ["/etc/os-release", image.lastFile];
  const series = Object.fromEntries(files.map((path) => [path, { ms: [], umoci: [], disk: [], fetched: [] }]));
  const bound = [];
  const pullDisk = [];
  for (let run = 0; run < runs; run++) {
    ctx.progress(`first cat in ${image.name}, run ${run + 1} of ${runs}`);
    const bodies = {};
    for (const path of files) {
      const timed = await firstCatRegdav(ctx, image, path);
      series[path].ms.push(timed.ms);
      series[path].disk.push(timed.diskBytes);
      bodies[path] = timed.body;
      const counted = await countedFirstCat(ctx, image, path);
      series[path].fetched.push(counted);
      if (!counted.body.equals(timed.body)) ctx.notice(`two fresh regdavs sent other bytes for ${image.name}:${path}`);
    }
    const pulled = await firstCatPullUnpack(ctx, image.gzipTwin, files);
    pullDisk.push(pulled.diskBytes);
    for (const path of files) {
      series[path].umoci.push(pulled.files[path].umociMs);
      if (!pulled.files[path].body.equals(bodies[path])) {
        ctx.notice(`regdav sent other bytes for ${image.name}:${path} than the unpacked gzip image`);
      }
    }
    bound.push(await streamBound(ctx, image.gzipTwin, 1));
  }
  const wholeLayers = Array(runs).fill(image.compressedSize);
  return files.flatMap((path) => sociComparisons(image, path, series[path], { bound, pullDisk, wholeLayers }));
}

function sociComparisons(image, path, samples, { bound, pullDisk, wholeLayers }) {
  const wholeLabel = "the whole gzip layer (what the full pass downloads and caches)";
  const fetched = samples.fetched;
  const medianOf = (key) => formatBytes(median(fetched.map((counted) => counted[key])));
  const requests = fetched.map((counted) => counted.rangeRequests).join(", ");
  return [
    {
      title: `first cat ${path} (${image.name})`,
      unit: "ms",
      regdav: samples.ms,
      alternatives: [
        { label: "skopeo copy + umoci unpack + cat of the gzip image", samples: samples.umoci },
        { label: "stream bound of the gzip layer", samples: bound },
      ],
    },
    {
      title: `bytes fetched by the first cat ${path} (${image.name})`,
      unit: "bytes",
      regdav: fetched.map((counted) => counted.total),
      alternatives: [{ label: wholeLabel, samples: wholeLayers }],
      note:
        `medians: zTOC ${medianOf("ztoc")}, Range reads of the layer ${medianOf("range")} ` +
        `(requests per cat: ${requests}), manifests, SOCI index and config ${medianOf("other")}. ` +
        "Response body bytes, counted by a proxy in front of the registry for a second fresh regdav",
    },
    {
      title: `disk used after the first cat ${path} (${image.name})`,
      unit: "bytes",
      regdav: samples.disk,
      alternatives: [
        { label: wholeLabel, samples: wholeLayers },
        { label: "OCI layout + umoci's bundle of the gzip image", samples: pullDisk },
      ],
      note: "regdav's cache folder, and the pulled layout with umoci's bundle, counted with du -sbc; the layer is its blob size",
    },
  ];
}

/**
 * Reads `path` through a fresh regdav that reaches the registry through a
 * counting proxy, and returns the body and the response body bytes fetched:
 * in total, for the zTOCs, by Range reads of the layers, and for everything
 * else. Throws when regdav fetched a layer without a Range header or never
 * fetched a zTOC, because then it did not read the layer through its zTOC
 * and the suite would time the full pass under the SOCI label.
 */
async function countedFirstCat(ctx, image, path) {
  const proxy = await startCountingProxy(ctx.registry.host);
  try {
    const regdav = await startRegdav(ctx.regdavRoot, ctx.scratch, proxy.host);
    try {
      const { body } = await timedGet(rootfsUrl(regdav, proxy.host, image, path));
      const counted = classifyRequests(proxy.counts().list, image);
      if (counted.wholeLayerGets.length > 0 || counted.ztocGets === 0) {
        const fetched = counted.wholeLayerGets.map((record) => `${record.method} ${record.url} (${record.bytes} bytes)`);
        const output = regdav.output().trim();
        throw new Error(
          `regdav at ${ctx.regdavRoot} did not read ${image.name}:${path} through its zTOC: ` +
            `${counted.ztocGets} zTOC requests, whole layer requests: ${fetched.join(", ") || "none"}. ` +
            (output === "" ? "It logged no warnings." : `Its output:\n${output}`),
        );
      }
      ctx.notice(regdav.output());
      return { body, ...counted };
    } finally {
      await regdav.stop();
    }
  } finally {
    await proxy.stop();
  }
}

function classifyRequests(records, image) {
  const ztocDigests = image.ztocs.map((ztoc) => ztoc.digest);
  const blobOf = (record) => /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(record.url.split("?")[0])?.[1];
  const counted = { total: 0, ztoc: 0, range: 0, other: 0, ztocGets: 0, rangeRequests: 0, wholeLayerGets: [] };
  for (const record of records) {
    counted.total += record.bytes;
    const blob = blobOf(record);
    if (blob !== undefined && ztocDigests.includes(blob)) {
      counted.ztoc += record.bytes;
      if (record.method === "GET") counted.ztocGets++;
    } else if (blob !== undefined && image.layers.includes(blob) && record.method === "GET") {
      if (record.range === undefined) counted.wholeLayerGets.push(record);
      counted.range += record.bytes;
      counted.rangeRequests++;
    } else {
      counted.other += record.bytes;
    }
  }
  return counted;
}
