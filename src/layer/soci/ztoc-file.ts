/**
 * The FileMetadata tables of a zTOC: one per tar entry, as soci-snapshotter's
 * ztoc/toc_builder.go fills them from Go's archive/tar headers.
 */
import { decodeTarText } from "../tar-header.js";
import type { Table, TableVector } from "./flatbuffer-reader.js";
import { parseRfc3339 } from "./rfc3339.js";
import { quote, ZtocError } from "./ztoc-error.js";

export const ZTOC_FILE_TYPES = ["reg", "dir", "symlink", "hardlink", "char", "block", "fifo"] as const;
export type ZtocFileType = (typeof ZTOC_FILE_TYPES)[number];

export interface ZtocFile {
  /** The tar entry's name as stored, without a leading `/` added or removed. Folder names may end in `/`. */
  name: string;
  type: ZtocFileType;
  /** Offset in the uncompressed tar of the entry's content, after its header blocks. */
  contentOffset: number;
  size: number;
  linkName: string;
  /** The tar header's mode field: permission bits, with file-type bits when the writer stored them. */
  mode: number;
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  /** Milliseconds since the epoch, 0 when the zTOC has no valid modification time. */
  modified: number;
  deviceMajor: number;
  deviceMinor: number;
  /** The entry's PAX records, such as `SCHILY.xattr.user.key`. Values that are not UTF-8 are read as Latin-1. */
  xattrs: Record<string, string>;
}

const TAR_BLOCK_SIZE = 512;
const fileTypes: ReadonlySet<string> = new Set(ZTOC_FILE_TYPES);

// Field slots of the schema's tables, in declaration order.
const FILE_SLOTS = {
  name: 0,
  type: 1,
  uncompressedOffset: 2,
  uncompressedSize: 3,
  linkname: 4,
  mode: 5,
  uid: 6,
  gid: 7,
  uname: 8,
  gname: 9,
  modTime: 10,
  devmajor: 11,
  devminor: 12,
  xattrs: 13,
} as const;
const XATTR_KEY_SLOT = 0;
const XATTR_VALUE_SLOT = 1;

/** Reads every FileMetadata table, and checks that their content lies within the tar without overlapping. */
export function readZtocFiles(metadata: TableVector | undefined, uncompressedSize: number, maxEntries: number): ZtocFile[] {
  if (metadata === undefined) return [];
  if (metadata.length > maxEntries) {
    throw new ZtocError(`${metadata.path} lists ${metadata.length} files, more than the limit of ${maxEntries}`);
  }
  const files: ZtocFile[] = [];
  for (let index = 0; index < metadata.length; index++) {
    files.push(readFile(metadata.at(index), uncompressedSize));
  }
  checkContentRanges(files, metadata.path);
  return files;
}

function readFile(table: Table, uncompressedSize: number): ZtocFile {
  const name = table.text(FILE_SLOTS.name, "name");
  if (name === "") throw new ZtocError(`${table.path}.name is empty`);
  const type = table.text(FILE_SLOTS.type, "type");
  if (!fileTypes.has(type)) {
    throw new ZtocError(`${table.path}.type is ${quote(type)} for ${quote(name)}: expected one of ${ZTOC_FILE_TYPES.join(", ")}`);
  }

  const contentOffset = table.safeInt64(FILE_SLOTS.uncompressedOffset, "uncompressed_offset");
  const size = table.safeInt64(FILE_SLOTS.uncompressedSize, "uncompressed_size");
  if (contentOffset % TAR_BLOCK_SIZE !== 0) {
    throw new ZtocError(`${table.path}.uncompressed_offset is ${contentOffset} for ${quote(name)}: tar content starts at a multiple of ${TAR_BLOCK_SIZE}`);
  }
  if (contentOffset + size > uncompressedSize) {
    throw new ZtocError(`${table.path}: content of ${quote(name)} at ${contentOffset} + ${size} bytes ends past the ${uncompressedSize}-byte tar`);
  }

  const modTime = table.latin1(FILE_SLOTS.modTime, "mod_time");
  return {
    name,
    type: type as ZtocFileType,
    contentOffset,
    size,
    linkName: table.text(FILE_SLOTS.linkname, "linkname"),
    mode: table.safeInt64(FILE_SLOTS.mode, "mode"),
    uid: table.uint32(FILE_SLOTS.uid, "uid"),
    gid: table.uint32(FILE_SLOTS.gid, "gid"),
    userName: table.text(FILE_SLOTS.uname, "uname"),
    groupName: table.text(FILE_SLOTS.gname, "gname"),
    modified: modTime === undefined ? 0 : (parseRfc3339(modTime) ?? 0),
    deviceMajor: table.safeInt64(FILE_SLOTS.devmajor, "devmajor"),
    deviceMinor: table.safeInt64(FILE_SLOTS.devminor, "devminor"),
    xattrs: readXattrs(table.tableVector(FILE_SLOTS.xattrs, "xattrs")),
  };
}

/** Reads PAX records into an object without a prototype, so a key such as `__proto__` stays a plain key. */
function readXattrs(vector: TableVector | undefined): Record<string, string> {
  const records: Record<string, string> = Object.create(null);
  if (vector === undefined) return records;
  for (let index = 0; index < vector.length; index++) {
    const table = vector.at(index);
    const key = table.text(XATTR_KEY_SLOT, "key");
    if (key === "" || key.includes("=")) {
      throw new ZtocError(`${table.path}.key ${quote(key)} is not a PAX keyword: it is empty or contains "="`);
    }
    // Values may be binary, such as security.capability, so NUL is allowed.
    const value = table.stringBytes(XATTR_VALUE_SLOT, "value");
    records[key] = value === undefined ? "" : decodeTarText(value);
  }
  return records;
}

/**
 * Checks that no entry's content overlaps the content of the entry before it
 * in the tar, as soci's reader does: in offset order, each entry's content
 * starts at or after the previous content's end, rounded up to a tar block.
 */
function checkContentRanges(files: ZtocFile[], path: string): void {
  let ordered = files;
  if (!isSortedByOffset(files)) {
    ordered = [...files].sort((a, b) => a.contentOffset - b.contentOffset);
  }
  let previousEnd = 0;
  let previous: ZtocFile | undefined;
  for (const file of ordered) {
    if (file.contentOffset < previousEnd) {
      throw new ZtocError(`${path}: content of ${quote(file.name)} at ${file.contentOffset} overlaps ${quote(previous!.name)}, which ends at ${previousEnd}`);
    }
    previousEnd = Math.ceil((file.contentOffset + file.size) / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE;
    previous = file;
  }
}

function isSortedByOffset(files: ZtocFile[]): boolean {
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.contentOffset < files[i - 1]!.contentOffset) return false;
  }
  return true;
}
