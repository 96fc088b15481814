import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";

import { indexLayer } from "../../../src/layer/index-layer.js";
import type { LayerEntry } from "../../../src/layer/layer-index.js";
import { readTocContent } from "../../../src/layer/toc/chunk-reader.js";
import { makeEstargzLayerOf } from "../../harness/estargz.js";
import { makeZstdChunkedLayer } from "../../harness/zstd-chunked.js";
import { bufferFetcher, listTestLayer, readStream, sampleEntries } from "./toc-fixtures.js";


/** The fields both kinds of index must agree on; offsets differ by design. */
function comparable(entries: readonly LayerEntry[]) {
  return entries.map(({ path, type, size, mode, modified, linkTarget }) => ({ path, type, size, mode, modified, linkTarget }));
}

const builders = {
  "zstd:chunked": () => makeZstdChunkedLayer(sampleEntries()),
  estargz: () => makeEstargzLayerOf(sampleEntries()),
};

for (const [kind, build] of Object.entries(builders)) {
  describe(`${kind} TOC against the full pass`, () => {
    it("lists what the tar contains", async () => {
      const layer = await build();
      const { index } = await listTestLayer(layer);
      const passed = await indexLayer(Readable.from([layer.bytes]), { digest: layer.digest });
      expect(comparable(index.entries)).toEqual(comparable(passed.entries));
      expect(index.whiteouts).toEqual(passed.whiteouts);
      expect(index.opaqueDirectories).toEqual(passed.opaqueDirectories);
    });
  });
}

describe("eStargz TOC entry", () => {
  it("reads stargz.index.json by its digest", async () => {
    const layer = await builders.estargz();
    const { index, table } = await listTestLayer(layer);
    const entry = index.entries.find((candidate) => candidate.path === "stargz.index.json");
    expect(entry).toBeDefined();
    expect(entry!.type).toBe("file");
    const bytes = await readStream(readTocContent(table, bufferFetcher(layer.bytes), entry!.dataOffset!, entry!.size));
    const digest = "sha256:" + createHash("sha256").update(bytes).digest("hex");
    expect(digest).toBe(layer.annotations["containerd.io/snapshot/stargz/toc.digest"]);
    expect(JSON.parse(bytes.toString("utf8")).entries.length).toBe(layer.toc.entries.length);
  });
});
