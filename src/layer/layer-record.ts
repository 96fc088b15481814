import { classifyEntryPath, normalizeEntryPath } from "./entry-path.js";
import type { LayerEntry, LayerEntryType } from "./layer-index.js";
import type { TarMember } from "./tar-scanner.js";

/** The part of a layer's listing that one tar member adds. */
export type LayerRecord =
  | { kind: "entry"; entry: LayerEntry }
  | { kind: "whiteout"; path: string }
  | { kind: "opaque"; directory: string };

/**
 * Reads one tar member as a layer entry, a whiteout or an opaque marker, or
 * returns undefined for a member that no listing shows:
 * - character and block devices, fifos and unknown type flags, because a
 *   WebDAV share cannot show them;
 * - aufs metadata (`.wh..wh.*`) and the root folder itself.
 *
 * A hardlink's entry names its normalized target and has no content here.
 * The layer tree, which applies the entries in order, gives it its target's.
 */
export function layerRecordOf(member: TarMember): LayerRecord | undefined {
  const path = normalizeEntryPath(member.name);
  if (path === "") return undefined;

  const role = classifyEntryPath(path);
  if (role.kind === "whiteout") return { kind: "whiteout", path: role.hiddenPath };
  if (role.kind === "opaque") return { kind: "opaque", directory: role.directory };
  if (role.kind !== "entry") return undefined;

  const type = entryTypeOf(member);
  if (type === undefined) return undefined;
  return { kind: "entry", entry: entryOf(path, type, member) };
}

function entryOf(path: string, type: LayerEntryType, member: TarMember): LayerEntry {
  const entry: LayerEntry = { path, type, size: 0, mode: member.mode, modified: member.modified };
  if (type === "file") {
    entry.size = member.size;
    entry.dataOffset = member.dataOffset;
    if (member.sparse) entry.sparse = member.sparse;
  }
  if (type === "symlink") entry.linkTarget = member.linkName;
  if (type === "hardlink") entry.linkTarget = normalizeEntryPath(member.linkName);
  return entry;
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
