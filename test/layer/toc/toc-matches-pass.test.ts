import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";

import { layerTreeFolders } from "../../../src/image/layer-tree.js";
import { indexLayer } from "../../../src/layer/index-layer.js";
import type { LayerListing } from "../../../src/layer/layer-index.js";
import { readTocContent } from "../../../src/layer/toc/chunk-reader.js";
import { makeEstargzLayerOf } from "../../harness/estargz.js";
import { makeZstdChunkedLayer } from "../../harness/zstd-chunked.js";
import { bufferFetcher, listTestLayer, readStream, sampleEntries } from "./toc-fixtures.js";


/**
 * Lists a layer's own tree without content offsets, which differ between a
 * TOC listing and the pass. The tree, not the entries, is compared, because
 * a TOC listing gives a hardlink its target's size and the pass leaves that
 * to the tree.
 */
function comparableTree(listing: LayerListing) {
  return [...layerTreeFolders(listing)].map(([path, folder]) => {
    const children = [...(folder.children ?? [])].map(([name, node]) => {
      if (node.kind !== "file") return [name, node];
      const { dataOffset: _offset, ...rest } = node;
      return [name, rest];
    });
    return { path, ...folder, children };
  });
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
      expect(comparableTree(index)).toEqual(comparableTree(passed));
      expect(comparableTree(passed).length).toBeGreaterThan(1);
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
