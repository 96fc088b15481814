// The benchmark suites that bench/run.mjs runs, in order. Each suite turns
// measurements into comparisons: a regdav series beside one or more
// alternatives, all in the same unit. Add a measurement by adding a suite.
import { rm } from "node:fs/promises";
import { join } from "node:path";

import { startBrowseServers, warmCat, warmPropfind } from "./browse.mjs";
import { evictedReadRun, wholeLayerDownload } from "./evicted-read.mjs";
import { firstCatPullUnpack, firstCatRegdav, streamBound } from "./first-cat.mjs";
import { startGrepMounts, timedGrep } from "./grep-mount.mjs";
import { firstListingMemory, indexInto, walkMemory } from "./memory.mjs";
import { firstCatSoci } from "./soci-image.mjs";
import { formatBytes, formatMs, median } from "./stats.mjs";

/** The folder listed by the PROPFIND suite: a few hundred entries in Debian. */
const listedFolder = "/usr/bin/";

/** Lists the rootfs files read in each image: a small one in the first layer and the last layer's last file. */
function filesOf(image) {
  return ["/etc/os-release", image.lastFile];
}

/**
 * Per run: a fresh regdav for each file, one pull and unpack for all files,
 * and the stream bound. Interleaving the tools spreads the noise of the
 * shared machine over all of them.
 */
async function firstCat(ctx, image, runs) {
  const files = filesOf(image);
  const series = {
    regdav: Object.fromEntries(files.map((path) => [path, []])),
    umoci: Object.fromEntries(files.map((path) => [path, []])),
    tar: Object.fromEntries(files.map((path) => [path, []])),
    sequential: [],
    parallel: [],
    copy: [],
    unpack: [],
    untar: [],
    disk: { regdav: [], pull: [] },
  };
  for (let run = 0; run < runs; run++) {
    ctx.progress(`first cat in ${image.name}, run ${run + 1} of ${runs}`);
    await firstCatRun(ctx, image, files, series);
  }
  return [...files.map((path) => firstCatComparison(image, path, series)), diskComparison(image, series)];
}

async function firstCatRun(ctx, image, files, series) {
  const regdavBodies = {};
  for (const path of files) {
    const { ms, body, diskBytes } = await firstCatRegdav(ctx, image, path);
    series.regdav[path].push(ms);
    series.disk.regdav.push(diskBytes);
    regdavBodies[path] = body;
  }

  const pulled = await firstCatPullUnpack(ctx, image, files);
  series.disk.pull.push(pulled.diskBytes);
  series.copy.push(pulled.copyMs);
  series.unpack.push(pulled.unpackMs);
  series.untar.push(pulled.untarMs);
  for (const path of files) {
    series.umoci[path].push(pulled.files[path].umociMs);
    series.tar[path].push(pulled.files[path].tarMs);
    if (!pulled.files[path].body.equals(regdavBodies[path])) {
      ctx.notice(`regdav sent other bytes than the unpacked image for ${image.name}:${path}`);
    }
  }

  series.sequential.push(await streamBound(ctx, image, 1));
  if (image.layers.length > 1) series.parallel.push(await streamBound(ctx, image, 3));
}

function firstCatComparison(image, path, series) {
  const alternatives = [
    { label: "skopeo copy + umoci unpack + cat", samples: series.umoci[path] },
    { label: "skopeo copy + tar -xzf each layer + cat", samples: series.tar[path] },
    { label: "stream bound, one layer at a time", samples: series.sequential },
  ];
  if (series.parallel.length > 0) {
    alternatives.push({ label: "stream bound, 3 layers at a time", samples: series.parallel });
  }
  const title = `first cat ${path} (${image.name})`;
  const note =
    `medians of the steps alone: skopeo copy ${formatMs(median(series.copy))}, ` +
    `umoci unpack ${formatMs(median(series.unpack))}, tar -xzf ${formatMs(median(series.untar))}`;
  return { title, unit: "ms", regdav: series.regdav[path], alternatives, note };
}

function diskComparison(image, series) {
  return {
    title: `disk used after the first cat (${image.name})`,
    unit: "bytes",
    regdav: series.disk.regdav,
    alternatives: [{ label: "OCI layout + umoci's bundle", samples: series.disk.pull }],
    note: "regdav's cache folder, and the pulled layout with umoci's bundle, counted with du -sbc",
  };
}

const rcloneLabel = "rclone serve webdav of the unpacked image";

/** Warm GETs of each file and warm PROPFINDs of a folder, regdav against rclone. */
async function browse(ctx, image, runs) {
  ctx.progress(`warm reads and listings in ${image.name}`);
  const servers = await startBrowseServers(ctx, image);
  const comparisons = [];
  try {
    for (const path of filesOf(image)) {
      const result = await warmCat(servers, path, runs);
      if (!result.sameBytes) ctx.notice(`regdav and rclone sent other bytes for ${path}`);
      const title = `warm cat ${path} (${image.name})`;
      const alternatives = [{ label: rcloneLabel, samples: result.rclone }];
      comparisons.push({ title, unit: "ms", regdav: result.regdav, alternatives });
    }
    comparisons.push(propfindComparison(image, await warmPropfind(servers, listedFolder, runs)));
    ctx.notice(servers.regdavOutput());
  } finally {
    await servers.stop();
  }
  return comparisons;
}

function propfindComparison(image, listing) {
  const { regdav, rclone } = listing.entries;
  return {
    title: `warm PROPFIND Depth 1 ${listedFolder} (${image.name})`,
    unit: "ms",
    regdav: listing.regdav,
    alternatives: [{ label: rcloneLabel, samples: listing.rclone }],
    note: `${listedFolder} lists ${regdav} entries in regdav and ${rclone} in rclone`,
  };
}

/**
 * First cat in the zstd:chunked copy of an image, whose layer regdav lists
 * from its table of contents. The pull and unpack alternative copies the
 * gzip image it was made from, which contains the same files, because umoci
 * 0.4 cannot unpack zstd layers. The stream bound streams the zstd:chunked blob.
 */
async function firstCatChunked(ctx, image, runs) {
  const files = filesOf(image);
  const regdav = Object.fromEntries(files.map((path) => [path, []]));
  const umoci = Object.fromEntries(files.map((path) => [path, []]));
  const bound = [];
  const disk = [];
  for (let run = 0; run < runs; run++) {
    ctx.progress(`first cat in ${image.name}, run ${run + 1} of ${runs}`);
    const bodies = {};
    for (const path of files) {
      const result = await firstCatRegdav(ctx, image, path);
      regdav[path].push(result.ms);
      disk.push(result.diskBytes);
      bodies[path] = result.body;
    }
    const pulled = await firstCatPullUnpack(ctx, image.gzipTwin, files);
    for (const path of files) {
      umoci[path].push(pulled.files[path].umociMs);
      if (!pulled.files[path].body.equals(bodies[path])) {
        ctx.notice(`regdav sent other bytes for ${image.name}:${path} than the unpacked gzip image`);
      }
    }
    bound.push(await streamBound(ctx, image, 1));
  }
  const comparisons = files.map((path) => ({
    title: `first cat ${path} (${image.name})`,
    unit: "ms",
    regdav: regdav[path],
    alternatives: [
      { label: "skopeo copy + umoci unpack + cat of the gzip image", samples: umoci[path] },
      { label: "stream bound of the zstd:chunked blob", samples: bound },
    ],
  }));
  comparisons.push({
    title: `disk used after the first cat (${image.name})`,
    unit: "bytes",
    regdav: disk,
    alternatives: [],
    note: "regdav's cache folder, counted with du -sbc",
  });
  return comparisons;
}

/**
 * Per run: reads each file after the cache lost the layer blobs, and
 * downloads the layer that contains it whole, which is what a read costs
 * without random access.
 */
async function evictedRead(ctx, image, runs) {
  const files = filesOf(image);
  const layerOf = { [files[0]]: image.layers[0], [files[1]]: image.layers.at(-1) };
  const series = Object.fromEntries(files.map((path) => [path, { ms: [], bytes: [], requests: [], whole: [], wholeBytes: [] }]));
  for (let run = 0; run < runs; run++) {
    ctx.progress(`reads after eviction in ${image.name}, run ${run + 1} of ${runs}`);
    const reads = await evictedReadRun(ctx, image, files);
    for (const path of files) {
      const samples = series[path];
      samples.ms.push(reads[path].ms);
      samples.bytes.push(reads[path].bytes);
      samples.requests.push(reads[path].requests);
      const whole = await wholeLayerDownload(ctx, image, layerOf[path]);
      samples.whole.push(whole.ms);
      samples.wholeBytes.push(whole.bytes);
    }
  }
  return files.flatMap((path) => {
    const samples = series[path];
    const label = "download the whole layer (GET of the blob)";
    const requests = `registry requests per read: ${samples.requests.join(", ")}`;
    return [
      {
        title: `read after eviction ${path} (${image.name})`,
        unit: "ms",
        regdav: samples.ms,
        alternatives: [{ label, samples: samples.whole }],
        note: `${requests}; the layer index was loaded by an earlier read in the same process`,
      },
      {
        title: `bytes fetched by that read ${path} (${image.name})`,
        unit: "bytes",
        regdav: samples.bytes,
        alternatives: [{ label, samples: samples.wholeBytes }],
        note: "response body bytes from the registry, counted by a proxy in front of it",
      },
    ];
  });
}

/** The folder searched by the grep suite: about 3,200 files in Debian. */
const grepFolder = "/usr/share/";
/** A word that no file contains, so grep reads every file to its end. */
const grepPattern = "regdav-bench-absent-word";

/**
 * `grep -r` over a folder of a few thousand files, through an rclone mount
 * of regdav and one of rclone's server of the unpacked files. The first
 * grep of regdav reads every file from the compressed layer; later ones
 * find small files in regdav's memory.
 */
async function grepMount(ctx, image, runs) {
  ctx.progress(`grep -r through rclone mounts in ${image.name}`);
  const { mounts, regdavOutput, stop } = await startGrepMounts(ctx, image);
  try {
    const first = { regdav: await timedGrep(mounts.regdav, grepFolder, grepPattern) };
    first.rclone = await timedGrep(mounts.rclone, grepFolder, grepPattern);
    if (first.regdav.matches !== first.rclone.matches) ctx.notice(`grep found other files in regdav and rclone under ${grepFolder}`);
    const repeated = { regdav: [], rclone: [] };
    for (let run = 0; run < runs; run++) {
      repeated.regdav.push((await timedGrep(mounts.regdav, grepFolder, grepPattern)).ms);
      repeated.rclone.push((await timedGrep(mounts.rclone, grepFolder, grepPattern)).ms);
    }
    ctx.notice(regdavOutput());
    const label = "rclone mount of rclone serve webdav of the unpacked image";
    return [
      {
        title: `first grep -r ${grepFolder} through rclone mount (${image.name})`,
        unit: "ms",
        regdav: [first.regdav.ms],
        alternatives: [{ label, samples: [first.rclone.ms] }],
        note: "layer indexed, no file content read before; rclone's page cache of its files is warm",
      },
      {
        title: `repeated grep -r ${grepFolder} through rclone mount (${image.name})`,
        unit: "ms",
        regdav: repeated.regdav,
        alternatives: [{ label, samples: repeated.rclone }],
      },
    ];
  } finally {
    await stop();
  }
}

/** Peak RSS of a fresh regdav after its first listing of rootfs/, and that listing's time. */
async function memory(ctx, image, runs) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    ctx.progress(`first rootfs listing of ${image.name}, run ${run + 1} of ${runs}`);
    results.push(await firstListingMemory(ctx, image));
  }
  return [
    {
      title: `first PROPFIND Depth 1 rootfs/ (${image.name})`,
      unit: "ms",
      regdav: results.map((result) => result.ms),
      alternatives: [],
    },
    {
      title: `peak RSS after first rootfs/ listing (${image.name})`,
      unit: "bytes",
      regdav: results.map((result) => result.rss),
      alternatives: [],
      note: `regdav's RSS before the request: ${results.map((r) => formatBytes(r.idleRss)).join(", ")}`,
    },
  ];
}

/**
 * Peak RSS of a regdav that lists every folder of an image whose layers an
 * earlier regdav indexed into the same cache, and the time of that walk.
 */
async function walkedMemory(ctx, image, runs) {
  const cacheDir = join(ctx.scratch, `walk-cache-${image.repository.replaceAll("/", "-")}`);
  await rm(cacheDir, { recursive: true, force: true });
  ctx.progress(`indexing ${image.name} into a cache for the folder walks`);
  await indexInto(ctx, image, cacheDir);
  const results = [];
  try {
    for (let run = 0; run < runs; run++) {
      ctx.progress(`listing every rootfs folder of ${image.name}, run ${run + 1} of ${runs}`);
      results.push(await walkMemory(ctx, image, cacheDir));
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  const { folders, entries } = results[0];
  return [
    {
      title: `list every rootfs/ folder after a restart (${image.name}, ${folders} folders)`,
      unit: "ms",
      regdav: results.map((result) => result.ms),
      alternatives: [],
      note: `${entries} entries listed; the layers were indexed by an earlier regdav on the same cache`,
    },
    {
      title: `peak RSS while listing every rootfs/ folder after a restart (${image.name})`,
      unit: "bytes",
      regdav: results.map((result) => result.rss),
      alternatives: [],
      note: `regdav's RSS before the walk: ${results.map((r) => formatBytes(r.idleRss)).join(", ")}`,
    },
  ];
}

/**
 * The suites by id, with their default repetition counts: at least 5 for
 * runs of a few seconds and 3 for the large image, where one run takes tens
 * of seconds. `--runs N` overrides the counts.
 */
export const suites = [
  { id: "first-cat-bookworm", image: "bookworm", runs: 5, run: firstCat },
  { id: "first-cat-large", image: "large", runs: 3, run: firstCat },
  { id: "first-cat-zstd-chunked", image: "zstdChunked", runs: 5, run: firstCatChunked },
  { id: "first-cat-soci-bookworm", image: "soci", runs: 5, run: firstCatSoci },
  { id: "browse-bookworm", image: "bookworm", runs: 30, run: browse },
  { id: "evicted-read-bookworm", image: "bookworm", runs: 5, run: evictedRead },
  { id: "evicted-read-large", image: "large", runs: 3, run: evictedRead },
  { id: "grep-mount-bookworm", image: "bookworm", runs: 2, run: grepMount },
  { id: "memory-bookworm", image: "bookworm", runs: 5, run: memory },
  { id: "memory-large", image: "large", runs: 3, run: memory },
  { id: "memory-many-files", image: "manyFiles", runs: 3, run: memory },
  { id: "walk-memory-many-files", image: "manyFiles", runs: 3, run: walkedMemory },
];
