// Times taking an image home: copying `docker-archive/image.tar` out of an
// `rclone mount` of regdav, against `skopeo copy docker://... docker-archive:...`
// from the same loopback registry. The image is about 60 MiB of random file
// content in three gzip layers, so compression does not shrink it.
//
//   node bench/export.mjs [--runs N]
//
// Each run times, after `sync`:
//   skopeo     skopeo copy docker://REGISTRY/bench/export:v1 docker-archive:FILE
//   cold ls    `ls -l docker-archive/` on a new regdav with an empty cache:
//              the listing downloads and indexes every layer, since the size
//              of image.tar needs their uncompressed sizes
//   cold cp    then the first cp of image.tar, which reads the cached layers
//   warm cp    the same cp again
// and checks that both copies are the same bytes and that skopeo reads them.
// dist/ must be built (`npm run build`). Nothing is written outside
// bench/.work/export and the system temp folder.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

import tar from "tar-stream";

import { checkBuild, startRegdav } from "./lib/regdav.mjs";
import { flushDisk, runCommand, startServer } from "./lib/process.mjs";
import { startRegistry } from "./lib/registry.mjs";
import { skopeoSetup } from "./lib/skopeo.mjs";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const work = join(repoRoot, "bench", ".work", "export");
const repository = "bench/export";
const tag = "v1";

const LAYERS = 3;
const FILES_PER_LAYER = 40;
const FILE_BYTES = 512 * 1024;

function sha256(bytes) {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function sha256File(path) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/** Builds one layer tar of random files in memory. */
async function makeLayerTar(position) {
  const pack = tar.pack();
  const chunks = [];
  pack.on("data", (chunk) => chunks.push(chunk));
  const done = new Promise((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  const mtime = new Date("2024-01-01T00:00:00Z");
  pack.entry({ name: `data${position}/`, type: "directory", mtime });
  for (let file = 0; file < FILES_PER_LAYER; file++) {
    pack.entry({ name: `data${position}/file${file}.bin`, mtime }, randomBytes(FILE_BYTES));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Pushes a blob with one POST and one PUT, as the distribution spec's monolithic upload. */
async function pushBlob(registryUrl, bytes) {
  const digest = sha256(bytes);
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start returned ${start.status}`);
  const location = new URL(start.headers.get("location"), registryUrl);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload of ${digest} returned ${put.status}`);
  return digest;
}

/** Builds and pushes the image; returns its compressed size in bytes. */
async function pushImage(registryUrl) {
  const layers = [];
  for (let position = 0; position < LAYERS; position++) {
    const uncompressed = await makeLayerTar(position);
    const compressed = gzipSync(uncompressed, { level: 1 });
    layers.push({ diffId: sha256(uncompressed), compressed });
  }

  const config = Buffer.from(
    JSON.stringify({
      created: "2024-01-01T00:00:00Z",
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    }),
  );
  const descriptor = (mediaType, bytes) => ({
    mediaType,
    digest: sha256(bytes),
    size: bytes.length,
  });
  for (const layer of layers) await pushBlob(registryUrl, layer.compressed);
  await pushBlob(registryUrl, config);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: descriptor("application/vnd.oci.image.config.v1+json", config),
      layers: layers.map((layer) =>
        descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer.compressed),
      ),
    }),
  );
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`manifest push returned ${put.status}`);
  return layers.reduce((total, layer) => total + layer.compressed.length, config.length);
}

async function isMounted(dir) {
  const mounts = await readFile("/proc/mounts", "utf8");
  return mounts.split("\n").some((line) => line.split(" ")[1] === dir);
}

/** Mounts the share read-only with rclone's default read settings, as the README shows. */
async function mountShare(regdavUrl, mountDir, scratch) {
  const args = [
    "mount",
    ":webdav:",
    mountDir,
    "--webdav-url",
    regdavUrl,
    "--webdav-vendor",
    "other",
  ];
  args.push("--read-only", "--vfs-cache-mode", "off", "--config", "/dev/null");
  args.push("--cache-dir", join(scratch, "rclone-cache"));
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("RCLONE_")),
  );
  const server = await startServer({
    name: "rclone mount",
    command: "rclone",
    args,
    env,
    isReady: () => isMounted(mountDir),
  });
  return async () => {
    await runCommand("fusermount3", ["-u", mountDir]).catch(() => undefined);
    await server.stop();
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function runOnce(registry, scratch, setup) {
  const skopeoArchive = join(scratch, "skopeo.tar");
  await rm(skopeoArchive, { force: true });
  await flushDisk();
  const skopeoArgs = [...setup.globalArgs, "copy", "--quiet", "--src-tls-verify=false"];
  skopeoArgs.push(`docker://${registry.host}/${repository}:${tag}`);
  skopeoArgs.push(`docker-archive:${skopeoArchive}:${registry.host}/${repository}:${tag}`);
  const skopeo = await runCommand("skopeo", skopeoArgs, { env: setup.env });

  const regdav = await startRegdav(repoRoot, scratch, registry.host);
  const mountDir = await mkdtemp(join(tmpdir(), "regdav-export-mount-"));
  const unmount = await mountShare(regdav.url, mountDir, scratch);
  try {
    const imageFolder = join(mountDir, registry.host, repository, "_tags", tag);
    const source = join(imageFolder, "docker-archive", "image.tar");
    const cold = join(scratch, "cold.tar");
    const warm = join(scratch, "warm.tar");
    await rm(cold, { force: true });
    await rm(warm, { force: true });

    await flushDisk();
    const listing = await runCommand("ls", ["-l", dirname(source)]);
    const coldCopy = await runCommand("cp", [source, cold]);
    await flushDisk();
    const warmCopy = await runCommand("cp", [source, warm]);

    const [coldHash, warmHash] = [await sha256File(cold), await sha256File(warm)];
    if (coldHash !== warmHash)
      throw new Error(`cold copy ${coldHash} differs from warm ${warmHash}`);
    await runCommand("skopeo", [...setup.globalArgs, "inspect", `docker-archive:${cold}`], {
      env: setup.env,
    });
    return {
      skopeoMs: skopeo.ms,
      listMs: listing.ms,
      readMs: coldCopy.ms,
      coldMs: listing.ms + coldCopy.ms,
      warmMs: warmCopy.ms,
      archiveBytes: (await stat(cold)).size,
      skopeoBytes: (await stat(skopeoArchive)).size,
    };
  } finally {
    await unmount();
    await rm(mountDir, { recursive: true, force: true });
    await regdav.stop();
  }
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
  const runs = Number(values.runs);
  const warning = await checkBuild(repoRoot);
  if (warning) console.warn(`warning: ${warning}`);

  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const registry = await startRegistry(work);
  try {
    const compressedBytes = await pushImage(registry.url);
    const setup = skopeoSetup(join(work, "skopeo"));
    const results = [];
    for (let run = 0; run < runs; run++) results.push(await runOnce(registry, work, setup));

    const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
    const seconds = (ms) => (ms / 1000).toFixed(2);
    console.log(`image: ${mib(compressedBytes)} MiB compressed in ${LAYERS} gzip layers`);
    const [first] = results;
    console.log(`image.tar: ${mib(first.archiveBytes)} MiB`);
    console.log(`skopeo's archive: ${mib(first.skopeoBytes)} MiB`);
    console.log(`runs: ${runs}; seconds, median (each run)`);
    const rows = [
      ["skopeo copy", "skopeoMs"],
      ["cold ls + cp", "coldMs"],
      ["  ls", "listMs"],
      ["  cp", "readMs"],
      ["warm cp", "warmMs"],
    ];
    for (const [label, key] of rows) {
      const times = results.map((result) => result[key]);
      console.log(
        `${label.padEnd(12)} ${seconds(median(times))} (${times.map(seconds).join(", ")})`,
      );
    }
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
