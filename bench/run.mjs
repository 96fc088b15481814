// Runs regdav's benchmarks (`npm run bench`): builds the images when they are
// missing, starts a loopback registry, pushes them, runs every suite of
// bench/lib/suites.mjs, prints the table of medians and writes
// docs/benchmarks.md.
//
//   node bench/run.mjs [--only ID[,ID...]] [--runs N] [--no-doc]
//
// --only runs the named suites and leaves docs/benchmarks.md as it is.
// REGDAV_BENCH_REGDAV=DIR measures the regdav checkout in DIR (its dist/
// built) instead of this one, for example an older commit to compare with.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { benchmarksPage, describeMachine, describeRegdav } from "./lib/page.mjs";
import { checkBuild } from "./lib/regdav.mjs";
import { hasManifest, startRegistry } from "./lib/registry.mjs";
import { resultsTable } from "./lib/report.mjs";
import { skopeoCopy, skopeoSetup } from "./lib/skopeo.mjs";
import { prepareManyFilesImage } from "./lib/many-files-image.mjs";
import { prepareSociImage } from "./lib/soci-image.mjs";
import { suites } from "./lib/suites.mjs";
import { prepareZstdChunkedImage } from "./lib/zstd-chunked-image.mjs";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const work = process.env.REGDAV_BENCH_WORK ?? join(repoRoot, "bench", ".work");
const layout = join(work, "oci");
const regdavRoot = process.env.REGDAV_BENCH_REGDAV ?? repoRoot;

/** Registry repository and tag of each tag in the local OCI layout. */
const registryNames = {
  bookworm: { repository: "bench/debian", tag: "bookworm" },
  large: { repository: "bench/large", tag: "latest" },
};

function parseOptions() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      runs: { type: "string" },
      "no-doc": { type: "boolean", default: false },
    },
  });
  const known = suites.map((suite) => suite.id);
  const only = values.only?.split(",") ?? known;
  const unknown = only.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new Error(`unknown suite ${unknown.join(", ")}: the suites are ${known.join(", ")}`);
  }
  const runs = values.runs === undefined ? undefined : Number(values.runs);
  if (runs !== undefined && !(Number.isInteger(runs) && runs > 0)) {
    throw new Error(`--runs must be a positive whole number, got ${values.runs}`);
  }
  const writeDoc = values.only === undefined && !values["no-doc"];
  return { only, runs, writeDoc };
}

/** Runs bench/make-images.sh unless its description of the images exists. */
function ensureImages() {
  if (existsSync(join(work, "images.json"))) return;
  const script = join(repoRoot, "bench", "make-images.sh");
  const result = spawnSync("bash", [script], { stdio: "inherit", env: process.env });
  if (result.status !== 0) throw new Error(`${script} failed with exit code ${result.status}`);
}

/**
 * Pushes each image unless the registry has it, then checks that the
 * registry's manifest lists the same layers as the local layout, because the
 * stream bound fetches those blobs by digest.
 */
async function pushImages(ctx, described) {
  const images = {};
  for (const [layoutTag, names] of Object.entries(registryNames)) {
    const reference = `${ctx.registry.host}/${names.repository}:${names.tag}`;
    if (!(await hasManifest(ctx.registry.url, names.repository, names.tag))) {
      console.error(`bench: pushing ${layout}:${layoutTag} to ${reference}`);
      const destination = `docker://${reference}`;
      await skopeoCopy(ctx.skopeo, `oci:${layout}:${layoutTag}`, destination, {
        tlsFlag: "--dest-tls-verify=false",
      });
    }
    const layers = await registryLayers(ctx.registry.url, names);
    const expected = described[layoutTag].layers.map((layer) => layer.digest);
    if (layers.join() !== expected.join()) {
      throw new Error(`${reference} has other layers than ${layout}:${layoutTag}: delete ${work}/registry and run again`);
    }
    images[layoutTag] = { ...described[layoutTag], ...names, name: layoutTag, layoutTag, layers };
  }
  return images;
}

async function registryLayers(registryUrl, { repository, tag }) {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  if (response.status !== 200) {
    throw new Error(`fetching the manifest of ${repository}:${tag} failed with status ${response.status}`);
  }
  const manifest = await response.json();
  return manifest.layers.map((layer) => layer.digest);
}

/** Collects regdav's warnings and the bench's own notes once each, for the report. */
function makeNotices() {
  const seen = new Set();
  const add = (text) => {
    for (const line of text.split("\n")) {
      if (line.trim() !== "") seen.add(line.trim());
    }
  };
  return { add, list: () => [...seen] };
}

async function main() {
  const options = parseOptions();
  const loadAtStart = loadavg()[0];
  const staleBuild = await checkBuild(regdavRoot);
  ensureImages();
  const described = JSON.parse(await readFile(join(work, "images.json"), "utf8"));
  const scratch = join(work, "scratch");
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });

  const notices = makeNotices();
  if (staleBuild) {
    console.error(`bench: warning: ${staleBuild}`);
    notices.add(staleBuild);
  }
  const ctx = {
    regdavRoot,
    layout,
    scratch,
    skopeo: skopeoSetup(join(scratch, "skopeo")),
    notice: notices.add,
    progress: (message) => console.error(`bench: ${message}`),
    registry: await startRegistry(work),
  };
  try {
    const images = await pushImages(ctx, described);
    images.zstdChunked = await prepareZstdChunkedImage(ctx, work, layout, images.bookworm);
    const selected = suites.filter((s) => options.only.includes(s.id));
    // Only its suite reads the SOCI copy, and the first run builds its zTOC from the whole layer.
    if (selected.some((suite) => suite.image === "soci")) {
      images.soci = await prepareSociImage(ctx, work, layout, images.bookworm);
    }
    if (selected.some((suite) => suite.image === "manyFiles")) {
      images.manyFiles = await prepareManyFilesImage(ctx, work);
    }
    const comparisons = [];
    for (const suite of selected) {
      comparisons.push(...(await suite.run(ctx, images[suite.image], options.runs ?? suite.runs)));
    }
    await report(options, images, comparisons, notices.list(), [loadAtStart, loadavg()[0]]);
  } finally {
    await ctx.registry.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function report(options, images, comparisons, notices, load) {
  console.log(resultsTable(comparisons));
  if (notices.length > 0) console.log("\nNotes:\n" + notices.map((n) => `- ${n}`).join("\n"));
  await writeFile(join(work, "results.json"), JSON.stringify({ comparisons, notices }, null, 2));
  if (!options.writeDoc) return;

  const page = benchmarksPage({
    date: new Date().toISOString().slice(0, 10),
    regdav: await describeRegdav(regdavRoot),
    machine: await describeMachine(load),
    images: Object.values(images),
    comparisons,
    notices,
  });
  await mkdir(join(repoRoot, "docs"), { recursive: true });
  await writeFile(join(repoRoot, "docs", "benchmarks.md"), page);
  console.error("bench: wrote docs/benchmarks.md");
}

await main();
