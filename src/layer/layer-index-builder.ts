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
 * zTOC) into one entry per path, whiteouts and opaque folders, leaving out
 * what layerRecordOf leaves out. The tar pass does not use it: it keeps the
 * tar's own order and repeated paths (TarListingWriter).
 */
export class LayerIndexBuilder {
  private readonly entries = new Map<string, LayerEntry>();
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirectories = new Set<string>();

  add(member: TarMember): void {
    const record = layerRecordOf(member);
    if (record?.kind === "whiteout") this.whiteouts.add(record.path);
    if (record?.kind === "opaque") this.opaqueDirectories.add(record.directory);
    if (record?.kind !== "entry") return;
    const { entry } = record;
    if (entry.type === "hardlink") this.linkToEarlierFile(entry);
    this.record(entry);
  }

  build(): LayerContents {
    return {
      entries: [...this.entries.values()],
      whiteouts: [...this.whiteouts],
      opaqueDirectories: [...this.opaqueDirectories],
    };
  }

  /**
   * Gives a hardlink the content of its target when the target came earlier
   * in this layer. Resolving now keeps the content the link had when it was
   * written, even if a later member replaces the target path.
   */
  private linkToEarlierFile(entry: LayerEntry): void {
    const earlier = this.entries.get(entry.linkTarget ?? "");
    if (earlier?.dataOffset === undefined) return;
    entry.size = earlier.size;
    entry.dataOffset = earlier.dataOffset;
    if (earlier.sparse) entry.sparse = earlier.sparse;
  }

  /** Stores an entry. A later member for a path replaces the earlier one and moves to the end. */
  private record(entry: LayerEntry): void {
    if (this.entries.has(entry.path)) this.entries.delete(entry.path);
    this.entries.set(entry.path, entry);
  }
}
