// Writes the generated files of the large benchmark image, one layer's worth
// per call: `node generate-files.mjs LAYER DIR`. The output is the same on
// every run, because all bytes come from fixed seeds.
import { createCipheriv } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MiB = 1024 * 1024;

/**
 * The layers added on top of the Debian root filesystem. Random bytes stand
 * for compiled or already compressed data, which gzip cannot shrink. Log
 * lines and source-like text shrink about four times.
 */
const layers = {
  models: (dir) => writeFiles(join(dir, "opt/models"), 24, () => 12 * MiB, "model", randomChunk),
  logs: (dir) => writeFiles(join(dir, "var/log/app"), 256, () => MiB, "app", logText),
  packages: (dir) => writePackageTree(join(dir, "usr/lib/app/node_modules"), 30_000),
  data: (dir) => writeFiles(join(dir, "srv/data"), 64, () => 4 * MiB, "part", mixedChunk),
};

/** A small deterministic generator (xorshift32), so text choices repeat run to run. */
function makeRandom(seed) {
  let state = seed >>> 0 || 1;
  return (limit) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % limit;
  };
}

/** Returns `size` incompressible bytes: AES-128-CTR of zeros under a key made from `seed`. */
function randomChunk(size, seed) {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

const words = (
  "request response handler cache layer index digest manifest registry " +
  "client server token timeout retry stream buffer offset length folder " +
  "config value error status upload download commit verify parse render"
).split(" ");
const levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];

/** Returns about `size` bytes of log lines with timestamps, ids and a few varying words. */
function logText(size, seed) {
  const random = makeRandom(seed);
  const lines = [];
  let length = 0;
  let time = Date.UTC(2024, 0, 1) + seed * 1000;
  while (length < size) {
    time += random(5000);
    const phrase = [0, 1, 2].map(() => words[random(words.length)]).join(" ");
    const line =
      `${new Date(time).toISOString()} ${levels[random(levels.length)]} ` +
      `id=${random(1_000_000).toString(16)} ${phrase} ` +
      `path=/api/v1/items/${random(100_000)} status=${[200, 200, 304, 404, 500][random(5)]} ` +
      `ms=${random(2000)}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, size);
}

/** Returns about `size` bytes of JavaScript-like source text. */
function sourceText(size, seed) {
  const random = makeRandom(seed);
  const parts = [`"use strict";\n// module ${seed}\n`];
  let length = parts[0].length;
  while (length < size) {
    const name = words[random(words.length)];
    const other = words[random(words.length)];
    const part =
      `export function ${name}${random(1000)}(${other}, options = {}) {\n` +
      `  const ${name} = options.${other} ?? ${random(65536)};\n` +
      `  if (!${other}) throw new Error("missing ${other} for ${name}");\n` +
      `  return ${other}.${name}(${name}, ${random(10)});\n}\n\n`;
    parts.push(part);
    length += part.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

/** Returns `size` bytes, the first half random and the second half log text. */
function mixedChunk(size, seed) {
  const half = Math.floor(size / 2);
  return Buffer.concat([randomChunk(half, seed), logText(size - half, seed + 1)]);
}

function writeFiles(dir, count, sizeOf, prefix, makeContent) {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(3, "0")}.${prefix === "app" ? "log" : "bin"}`;
    writeFileSync(join(dir, name), makeContent(sizeOf(i), 1000 + i));
  }
}

/**
 * Writes `count` small files in package folders of 50 files each, 1 to 16
 * KiB per file, most of them source text and one in eight random bytes
 * (like bundled binaries and images).
 */
function writePackageTree(dir, count) {
  const random = makeRandom(7);
  for (let i = 0; i < count; i++) {
    const packageDir = join(dir, `pkg-${String(Math.floor(i / 50)).padStart(4, "0")}`, "lib");
    if (i % 50 === 0) mkdirSync(packageDir, { recursive: true });
    const size = 1024 + random(15 * 1024);
    const binary = random(8) === 0;
    const content = binary ? randomChunk(size, 50_000 + i) : sourceText(size, 50_000 + i);
    writeFileSync(join(packageDir, `file-${i % 50}${binary ? ".wasm" : ".js"}`), content);
  }
}

const [layer, dir] = process.argv.slice(2);
if (!layer || !dir || !(layer in layers)) {
  process.stderr.write(`usage: node generate-files.mjs {${Object.keys(layers).join("|")}} DIR\n`);
  process.exit(2);
}
layers[layer](dir);
