/**
 * Path rules for tar entry names: normalization below the image root and the
 * OCI whiteout markers (`.wh.NAME` and `.wh..wh..opq`).
 */

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";
/** aufs keeps its own metadata under names like `.wh..wh.plnk` and `.wh..wh.aufs`. */
const AUFS_METADATA_PREFIX = ".wh..wh.";

/**
 * Normalizes a tar entry name to a path below the image root, without a
 * leading or trailing `/` (`""` is the root). Every other character stays as
 * it is.
 *
 * Why: tar names are untrusted input. An absolute name (`/etc/passwd`) or
 * `..` segments could otherwise name something outside the image, so `..` is
 * clamped at the root, as a chroot resolves it, and empty and `.` segments are
 * dropped.
 */
export function normalizeEntryPath(name: string): string {
  const segments: string[] = [];
  for (const segment of name.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return segments.join("/");
}

/** The role of a normalized entry path in the layer index. */
export type EntryPathKind =
  | { kind: "entry" }
  | { kind: "whiteout"; hiddenPath: string }
  | { kind: "opaque"; directory: string }
  | { kind: "ignored"; reason: string };

/** Splits a normalized path into its parent folder (`""` for the root) and base name. */
export function splitParent(path: string): { parent: string; base: string } {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return { parent: "", base: path };
  return { parent: path.slice(0, slash), base: path.slice(slash + 1) };
}

/**
 * Classifies a normalized path as an ordinary entry, a whiteout, an opaque
 * marker, or a name to skip. The marker is recognized by name whatever the
 * entry's type, as containerd does.
 */
export function classifyEntryPath(path: string): EntryPathKind {
  const { parent, base } = splitParent(path);
  if (hasMarkerFolder(parent)) return { kind: "ignored", reason: "inside a whiteout-named folder" };
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "entry" };
  if (base === OPAQUE_MARKER) return { kind: "opaque", directory: parent };
  if (base.startsWith(AUFS_METADATA_PREFIX)) return { kind: "ignored", reason: "aufs metadata" };

  const hiddenName = base.slice(WHITEOUT_PREFIX.length);
  if (!isSafeWhiteoutName(hiddenName)) return { kind: "ignored", reason: "invalid whiteout name" };
  return { kind: "whiteout", hiddenPath: parent === "" ? hiddenName : `${parent}/${hiddenName}` };
}

/**
 * Why: `.wh.`, `.wh..` and `.wh...` would hide `""`, `.` or `..`, that is the
 * marker's own folder or its parent. Obeying them would let one layer erase
 * a whole tree, so the OCI image spec forbids them and they are skipped.
 */
function isSafeWhiteoutName(name: string): boolean {
  return name !== "" && name !== "." && name !== "..";
}

/**
 * Entries below a folder named `.wh.*` (such as aufs's `.wh..wh.plnk/`) are
 * never image content: a whiteout marker cannot be a folder.
 */
function hasMarkerFolder(parent: string): boolean {
  return parent.startsWith(WHITEOUT_PREFIX) || parent.includes(`/${WHITEOUT_PREFIX}`);
}
