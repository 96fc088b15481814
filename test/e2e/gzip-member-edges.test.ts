import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { gzip, makeLayerTar, type TarEntry } from "../harness/layer-tar.js";
import { makeBlob, makeImageConfig, mediaTypes, sha256Digest, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { davRequest, getBytes } from "./dav-client.js";

/** The indexing pass's default distance between checkpoints. */
const CHECKPOINT_SPACING = 4 * 1024 * 1024;

/** Text files of `size` bytes each, different in every line. */
function textFiles(count: number, size: number): TarEntry[] {
  const entries: TarEntry[] = [{ type: "directory", path: "data" }];
  for (let n = 0; n < count; n++) {
    const lines: string[] = [];
    for (let length = 0, line = 0; length < size; line++) {
      const text = `file ${n} line ${line} ${createHash("sha256").update(`${n}:${line}`).digest("hex")}\n`;
      lines.push(text);
      length += text.length;
    }
    entries.push({ type: "file", path: `data/file-${n}.txt`, content: lines.join("") });
  }
  return entries;
}

/** Builds a gzip layer of two members, the first ending `split` bytes into the tar. */
async function twoMemberLayer(entries: TarEntry[], split: number): Promise<LayerBlob> {
  const tar = await makeLayerTar(entries);
  const bytes = Buffer.concat([gzip(tar.subarray(0, split)), gzip(tar.subarray(split))]);
  return { ...makeBlob(mediaTypes.ociLayerGzip, bytes), diffId: sha256Digest(tar), uncompressed: tar, entries };
}

describe("gzip member that ends one byte before a checkpoint is due", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  const entries = textFiles(24, 300_000);
  const rootfs = (repository: string) => `${regdav.url}${registry.host}/${repository}/_tags/v1/rootfs/`;

  beforeAll(async () => {
    registry = await startRegistry();
    // The first member's output ends one byte short of the first due checkpoint, where an
    // earlier native pass missed the end of the member and looped forever.
    const layer = await twoMemberLayer(entries, CHECKPOINT_SPACING - 1);
    await pushImage(registry.host, "edges/split", "v1", { layers: [layer], config: makeImageConfig({ layers: [layer] }), format: "oci" });
    const filler = await twoMemberLayer([{ type: "file", path: "filler.txt", content: "filler\n" }], 512);
    await pushImage(registry.host, "edges/filler", "v1", { layers: [filler], config: makeImageConfig({ layers: [filler] }), format: "oci" });
    // A cache of 1 byte keeps only the newest blob, so reading the filler evicts the split layer.
    regdav = await startRegdav(["--registry", registry.host, "--cache-size", "1"]);
  }, 180_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("serves every file of the layer", async () => {
    for (const entry of entries) {
      if (entry.type !== "file") continue;
      const bytes = await getBytes(rootfs("edges/split") + entry.path);
      expect(bytes.equals(Buffer.from(entry.content ?? "")), `bytes of ${entry.path}`).toBe(true);
    }
  });

  it("reads across the member end after eviction", async () => {
    expect((await getBytes(rootfs("edges/filler") + "filler.txt")).toString()).toBe("filler\n");
    for (const entry of entries) {
      if (entry.type !== "file") continue;
      const content = Buffer.from(entry.content ?? "");
      const part = await getBytes(rootfs("edges/split") + entry.path, { Range: `bytes=1000-${content.length - 1000}` });
      expect(part.equals(content.subarray(1000, content.length - 999)), `range of ${entry.path}`).toBe(true);
    }
    const options = await davRequest(regdav.url, "OPTIONS");
    expect(options.status).toBe(200);
  });
});
