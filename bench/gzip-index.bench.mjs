// Measures the gzip checkpoint indexing pass against plain decompression.
//
//   npm run build && node bench/gzip-index.bench.mjs [--mib 200] [--source /usr]
//
// It writes the first --mib MiB of `tar -cf - SOURCE` to a temporary folder
// and compresses that with `gzip -6`. The tar is cut at that size, which
// does not matter to gzip. Then it times `gunzip -c > /dev/null`, Node's
// zlib gunzip stream and the indexing pass, with Node's zlib and with pako,
// three runs each, and reports the fastest run of each. It also reports the
// index size and the cost of small random reads.
import { spawnSync } from "node:child_process";
import { createReadStream, mkdtempSync, openSync, rmSync, statSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";

import {
  GzipCheckpointIndexer,
  readGzipRange,
  serializeRandomAccessIndex,
} from "../dist/layer/random-access/index.js";

const { values } = parseArgs({
  options: { mib: { type: "string", default: "200" }, source: { type: "string", default: "/usr" } },
});
const MIB = 1024 * 1024;
const RUNS = 3;

function discard() {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

function makeInput(folder) {
  const tarPath = join(folder, "input.tar");
  const limit = Number(values.mib) * MIB;
  const script = `tar -cf - "$1" 2>/dev/null | head -c ${limit} > "$2"; gzip -6 -k "$2"`;
  const args = ["-c", script, "sh", values.source, tarPath];
  const result = spawnSync("sh", args, { stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(`creating the input failed with exit code ${result.status}`);
  }
  return { tarPath, gzipPath: `${tarPath}.gz` };
}

async function fastest(name, run) {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run();
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  console.log(`${name.padEnd(34)} ${best.toFixed(2)} s`);
  return best;
}

function gunzipCommand(gzipPath) {
  const devNull = openSync("/dev/null", "w");
  try {
    const result = spawnSync("gunzip", ["-c", gzipPath], { stdio: ["ignore", devNull, "inherit"] });
    if (result.status !== 0) throw new Error(`gunzip failed with exit code ${result.status}`);
  } finally {
    closeSync(devNull);
  }
}

async function indexingPass(gzipPath, inflater) {
  const indexer = new GzipCheckpointIndexer(inflater ? { inflater } : {});
  await pipeline(createReadStream(gzipPath), indexer.stream, discard());
  return indexer.index();
}

async function timeRandomReads(index, gzipPath, count) {
  let fetched = 0;
  const fetch = async (start, end) => {
    fetched += end + 1 - start;
    return createReadStream(gzipPath, { start, end });
  };
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const offset = Math.floor(Math.random() * (index.uncompressedSize - 4096));
    for await (const _ of readGzipRange(index, fetch, offset, 4096));
  }
  const milliseconds = (performance.now() - started) / count;
  const mebibytes = (fetched / count / MIB).toFixed(2);
  const time = `${milliseconds.toFixed(1)} ms`;
  console.log(`random 4 KiB read: ${time}, ${mebibytes} MiB fetched on average`);
}

const folder = mkdtempSync(join(tmpdir(), "regdav-bench-"));
try {
  const { tarPath, gzipPath } = makeInput(folder);
  const tarSize = statSync(tarPath).size;
  const gzipSize = statSync(gzipPath).size;
  const sizes = `${(tarSize / MIB).toFixed(0)} MiB tar of ${values.source}`;
  console.log(`input: ${sizes}, ${(gzipSize / MIB).toFixed(1)} MiB gzip -6`);

  const command = await fastest("gunzip -c > /dev/null", () => gunzipCommand(gzipPath));
  const node = await fastest("node zlib createGunzip", () =>
    pipeline(createReadStream(gzipPath), createGunzip(), discard()),
  );
  let index;
  const pass = await fastest("indexing pass (4 MiB spacing)", async () => {
    index = await indexingPass(gzipPath);
  });
  const ratios = `pass / gunzip command: ${(pass / command).toFixed(2)}x`;
  console.log(`${ratios}, pass / node zlib: ${(pass / node).toFixed(2)}x`);
  // The pass falls back to pako where Node's zlib binding fails its check.
  const pakoPass = await fastest("indexing pass with pako", () => indexingPass(gzipPath, "pako"));
  console.log(`pako pass / gunzip command: ${(pakoPass / command).toFixed(2)}x`);

  const indexSize = serializeRandomAccessIndex({ kind: "gzip", ...index }).length;
  const perCheckpoint = indexSize / index.checkpoints.length;
  const count = `${index.checkpoints.length} checkpoints, ${indexSize} bytes`;
  console.log(`index: ${count}, ${perCheckpoint.toFixed(0)} bytes per checkpoint`);
  const perMebibyte = (indexSize / (tarSize / MIB)).toFixed(0);
  const share = ((100 * indexSize) / gzipSize).toFixed(2);
  console.log(`index per MiB uncompressed: ${perMebibyte} bytes, ${share}% of the gzip size`);
  await timeRandomReads(index, gzipPath, 50);
} finally {
  rmSync(folder, { recursive: true, force: true });
}
