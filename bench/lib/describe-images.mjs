// Prints a JSON description of images in an OCI layout, for bench/run.mjs:
// `node describe-images.mjs LAYOUT TAG...`. For each tag it gives the layer
// digests and sizes, entry counts by type (from GNU tar's listing, not from
// regdav), and the last non-empty regular file of the last layer.
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

/** Entry types as the first character of `tar -tv` lines. */
const entryTypes = { "-": "files", h: "hardlinks", d: "folders", l: "symlinks" };

async function readJson(path) {
  return JSON.parse(await readFile(path, "utf8"));
}

function blobPath(layout, digest) {
  return join(layout, "blobs", ...digest.split(":"));
}

async function manifestOf(layout, tag) {
  const index = await readJson(join(layout, "index.json"));
  const entry = index.manifests.find(
    (m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag,
  );
  if (!entry) throw new Error(`tag ${tag} not found in ${layout}/index.json`);
  return readJson(blobPath(layout, entry.digest));
}

/**
 * Parses one `tar -tv --numeric-owner` line into its type, size and name.
 * Only regular files need the size and name, and their lines have exactly
 * five fields before the name.
 */
function parseListing(line) {
  const match = /^(\S)\S*\s+\S+\s+(\d+)\s+\S+\s+\S+\s(.*)$/.exec(line);
  return { type: line[0], size: match ? Number(match[2]) : 0, name: match ? match[3] : "" };
}

/** Streams a gzip layer through gunzip and `tar -tv`, counting bytes and entries. */
async function describeLayer(path) {
  const tar = spawn("tar", ["-tv", "--numeric-owner", "-f", "-"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const counts = { entries: 0, files: 0, hardlinks: 0, folders: 0, symlinks: 0, other: 0 };
  let lastFile;
  const lines = createInterface({ input: tar.stdout });
  lines.on("line", (line) => {
    const entry = parseListing(line);
    counts.entries++;
    counts[entryTypes[entry.type] ?? "other"]++;
    if (entry.type === "-" && entry.size > 0) lastFile = entry.name;
  });

  let uncompressedSize = 0;
  const gunzip = createGunzip();
  gunzip.on("data", (chunk) => (uncompressedSize += chunk.length));
  const exited = new Promise((resolve) => tar.once("close", resolve));
  await pipeline(createReadStream(path), gunzip, tar.stdin);
  const code = await exited;
  if (code !== 0) throw new Error(`tar -tv of ${path} exited with code ${code}`);
  return { uncompressedSize, counts, lastFile };
}

async function describeImage(layout, tag) {
  const manifest = await manifestOf(layout, tag);
  const layers = [];
  for (const layer of manifest.layers) {
    const described = await describeLayer(blobPath(layout, layer.digest));
    layers.push({ digest: layer.digest, compressedSize: layer.size, ...described });
  }
  const sum = (pick) => layers.reduce((total, layer) => total + pick(layer), 0);
  return {
    tag,
    layers,
    compressedSize: sum((layer) => layer.compressedSize),
    uncompressedSize: sum((layer) => layer.uncompressedSize),
    entries: sum((layer) => layer.counts.entries),
    files: sum((layer) => layer.counts.files + layer.counts.hardlinks),
    lastFile: "/" + layers.at(-1).lastFile.replace(/^\.?\//, ""),
  };
}

const [layout, ...tags] = process.argv.slice(2);
if (!layout || tags.length === 0) {
  process.stderr.write("usage: node describe-images.mjs LAYOUT TAG...\n");
  process.exit(2);
}
const images = {};
for (const tag of tags) images[tag] = await describeImage(layout, tag);
process.stdout.write(JSON.stringify(images, null, 2) + "\n");
