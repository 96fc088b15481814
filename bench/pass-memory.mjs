// Peak memory of one gzip indexing pass, inflating on the main thread and on
// a worker thread: `npm run build && node bench/pass-memory.mjs [BLOB]`.
// Each mode runs in a fresh Node process, which decompresses the blob
// through dist/'s createIndexingDecompressor, discards the output and prints
// its peak RSS (VmHWM). The default blob is the Debian layer that
// bench/make-images.sh builds.
import { spawnSync } from "node:child_process";
import { createReadStream, readFileSync, statSync } from "node:fs";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const defaultBlob = "bench/.work/oci/blobs/sha256/78065cb05523bbbe7270f15325487fe89c4597e4a3c3f9426bba6de1d2e737bb";

/** Returns this process's peak resident set size in MiB. */
function peakRssMib() {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (!match) throw new Error("/proc/self/status has no VmHWM line");
  return Number(match[1]) / 1024;
}

/** Runs one pass in this process and prints one JSON line of results. */
async function runPass(mode, blob) {
  const { createIndexingDecompressor } = await import(`${repoRoot}dist/layer/random-access/index.js`);
  const idle = peakRssMib();
  const indexing = createIndexingDecompressor("gzip", {
    useWorker: mode === "worker",
    expectedSize: statSync(blob).size,
    streamName: blob,
  });
  let bytes = 0;
  const discard = new Writable({
    write(chunk, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  await pipeline(createReadStream(blob), indexing.stream, discard);
  const result = { mode, onWorkerThread: indexing.onWorkerThread, uncompressed: bytes, idleMib: idle, peakMib: peakRssMib() };
  process.stdout.write(JSON.stringify(result) + "\n");
}

const [mode, blobArgument] = process.argv.slice(2);
if (mode === "inline" || mode === "worker") {
  await runPass(mode, blobArgument);
} else {
  const blob = mode ?? `${repoRoot}${defaultBlob}`;
  for (const each of ["inline", "worker"]) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), each, blob], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(`the ${each} pass failed:\n${child.stderr}`);
    const result = JSON.parse(child.stdout);
    const thread = result.onWorkerThread ? "worker thread" : "main thread";
    console.log(`${each}: inflated on the ${thread}, peak RSS ${result.peakMib.toFixed(1)} MiB (${result.idleMib.toFixed(1)} MiB before the pass)`);
  }
}
