import { it } from "vitest";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CacheLayout } from "../../../src/cache/cache-layout.js";
import { BlobStore } from "../../../src/cache/blob-store.js";
import { LayerStore } from "../../../src/cache/layer-store.js";
import { RegistrySource } from "../../../src/registry/registry-source.js";
import { setLogLevel } from "../../../src/log.js";
import { startRegistry } from "../../harness/registry.js";
import { startFaultProxy } from "../../harness/fault-proxy.js";
import { pushLayerImage } from "../fault-fixtures.js";

import { AtomicFile } from "../../../src/cache/atomic-file.js";
const origAbort = AtomicFile.prototype.abort;
AtomicFile.prototype.abort = async function () { console.log("abort start", this.finalPath, this.stream.closed, this.stream.destroyed); await origAbort.call(this); console.log("abort done"); };
import { EventEmitter } from "node:events";
const origEmit = EventEmitter.prototype.emit;
EventEmitter.prototype.emit = function (this: EventEmitter, name: string | symbol, ...args: unknown[]) {
  if (name === "error" && this.listenerCount("error") === 0) console.log("UNHANDLED error on", this.constructor.name, (this as any).path, new Error("here").stack);
  return origEmit.call(this, name, ...args);
} as typeof origEmit;
it("short pass via registry", async () => {
  setLogLevel("debug");
  const registry = await startRegistry();
  const proxy = await startFaultProxy(registry.host);
  const image = await pushLayerImage(registry.host, "a/b", [{ type: "file", path: "data.bin", content: randomBytes(1_500_000) }]);
  const source = new RegistrySource({ name: proxy.host });
  const dir = mkdtempSync(join(tmpdir(), "pass-"));
  const layout = new CacheLayout(dir);
  const layers = new LayerStore(layout, new BlobStore(layout));
  proxy.addFault({ path: /blobs/, fault: { kind: "truncate", bytes: 300_000, mode: "chunked" } });
  const d = { digest: image.layer.digest, size: image.layer.size, mediaType: image.layer.mediaType };
  const result = await Promise.race([
    layers.index(d, () => source.openBlob("a/b", d), "x").then(() => "ok", (e) => "error " + e.message),
    new Promise((r) => setTimeout(() => r("hang"), 5000)),
  ]);
  console.log(result, readdirSync(dir, { recursive: true }));
  await proxy.close(); await registry.stop();
});
