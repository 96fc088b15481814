import { classifyEntryPath, normalizeEntryPath } from "./entry-path.js";
import type { LayerEntry, LayerEntryType } from "./layer-index.js";
import type { TarMember } from "./tar-scanner.js";

/** Entries and markers of one layer, before the stream totals are known. */
export interface LayerContents {
  entries: LayerEntry[];
  whiteouts: string[];
  opaqueDirectories: string[];
}

/**
 * Collects tar members into layer entries, whiteouts and opaque folders.
 *
 * These members are left out of the entries:
 * - character and block devices, fifos and unknown type flags, because a
 *   WebDAV share cannot show them;
 * - whiteout markers, which go to `whiteouts` and `opaqueDirectories`;
 * - aufs metadata (`.wh..wh.*`) and the root folder itself.
 */
export class LayerIndexBuilder {
  private readonly entries = new Map<string, LayerEntry>();
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirectories = new Set<string>();

  add(member: TarMember): void {
    const path = normalizeEntryPath(member.name);
    if (path === "") return;

    const kind = classifyEntryPath(path);
    if (kind.kind === "whiteout") this.whiteouts.add(kind.hiddenPath);
    if (kind.kind === "opaque") this.opaqueDirectories.add(kind.directory);
    if (kind.kind !== "entry") return;

    const type = entryTypeOf(member);
    if (type === undefined) return;
    this.record(this.createEntry(path, type, member));
  }

  build(): LayerContents {
    return {
      entries: [...this.entries.values()],
      whiteouts: [...this.whiteouts],
      opaqueDirectories: [...this.opaqueDirectories],
    };
  }

  private createEntry(path: string, type: LayerEntryType, member: TarMember): LayerEntry {
    const entry: LayerEntry = { path, type, size: 0, mode: member.mode, modified: member.modified };
    if (type === "file") {
      entry.size = member.size;
      entry.dataOffset = member.dataOffset;
      if (member.sparse) entry.sparse = member.sparse;
    }
    if (type === "symlink") entry.linkTarget = member.linkName;
    if (type === "hardlink") this.linkToEarlierFile(entry, normalizeEntryPath(member.linkName));
    return entry;
  }

  /**
   * Gives a hardlink the content of its target when the target came earlier
   * in this layer. Resolving now keeps the content the link had when it was
   * written, even if a later member replaces the target path.
   */
  private linkToEarlierFile(entry: LayerEntry, target: string): void {
    entry.linkTarget = target;
    const earlier = this.entries.get(target);
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

/**
 * Maps a type flag to an entry type, or undefined for a member that is left
 * out. A v7 regular file whose name ends in `/` is a folder, as old tars
 * wrote folders that way.
 */
function entryTypeOf(member: TarMember): LayerEntryType | undefined {
  switch (member.typeflag) {
    case "0":
    case "7":
      return member.name.endsWith("/") ? "directory" : "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
    case "D":
      return "directory";
    default:
      return undefined;
  }
}
