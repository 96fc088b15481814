import type { LayerEntry } from "./layer-index.js";
import { layerRecordOf } from "./layer-record.js";
import type { TarMember } from "./tar-scanner.js";

/** Entries and markers of one layer, before the stream totals are known. */
export interface LayerContents {
  entries: LayerEntry[];
  whiteouts: string[];
  opaqueDirectories: string[];
}

/**
 * Collects the members of a table of contents (eStargz, zstd:chunked, SOCI
 * zTOC) into a listing, as the tar pass lists a tar. Every entry stays in
 * order, repeated paths included. Hardlinks have no content, because the
 * layer tree gives them their target's at their place in the order.
 * Whiteouts and opaque markers are gathered apart, and what layerRecordOf
 * leaves out is left out.
 */
export class LayerIndexBuilder {
  private readonly entries: LayerEntry[] = [];
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirectories = new Set<string>();

  add(member: TarMember): void {
    const record = layerRecordOf(member);
    if (record?.kind === "entry") this.entries.push(record.entry);
    if (record?.kind === "whiteout") this.whiteouts.add(record.path);
    if (record?.kind === "opaque") this.opaqueDirectories.add(record.directory);
  }

  build(): LayerContents {
    return {
      entries: this.entries,
      whiteouts: [...this.whiteouts],
      opaqueDirectories: [...this.opaqueDirectories],
    };
  }
}
