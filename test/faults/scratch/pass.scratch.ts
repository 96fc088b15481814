import { it, expect } from "vitest";
import { Readable } from "node:stream";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { makeLayer } from "../../harness/image-builder.js";
import { CacheLayout } from "../../../src/cache/cache-layout.js";
import { BlobStore } from "../../../src/cache/blob-store.js";
import { LayerStore } from "../../../src/cache/layer-store.js";

it("short pass", async () => {
  const layer = await makeLayer([{ type: "file", path: "data.bin", content: randomBytes(1_500_000) }]);
  const dir = mkdtempSync(join(tmpdir(), "pass-"));
  const layout = new CacheLayout(dir);
  const blobs = new BlobStore(layout);
  const layers = new LayerStore(layout, blobs);
  const short = layer.bytes.subarray(0, 300_000);
  const open = async () => Readable.from([short.subarray(0, 100_000), short.subarray(100_000)], { objectMode: false });
  const result = await Promise.race([
    layers.index({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType }, open, "x").then(() => "ok", (e) => "error " + e.message),
    new Promise((r) => setTimeout(() => r("hang"), 5000)),
  ]);
  console.log(result, readdirSync(dir, { recursive: true }));
});
