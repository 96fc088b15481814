import { createHash } from "node:crypto";
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";

import type { LayerFolder, LayerNode, LayerTree } from "./layer-tree.js";
import { comparePathBytes } from "./path-order.js";
import { sparseOf } from "./view-tree.js";

/**
 * A layer tree stored in one file, read one folder at a time, so a view of a
 * layer with millions of files keeps only the folders it reads in memory.
 *
 * Layout, all integers little-endian:
 * - the 8 bytes `RDTREE01`;
 * - one record per folder, in layer tree order (path-order.ts): the path's
 *   byte length (32-bit) and UTF-8 bytes, then the length (32-bit) and bytes
 *   of the folder as JSON (FolderJson);
 * - the slot table: the offset of each record (64-bit), in the same order,
 *   so a folder is found by binary search;
 * - a trailer: the folder count and the offset of the slot table (64-bit),
 *   then the SHA-256 of every byte before the trailer.
 *
 * The file is derived from the layer's listing and is written without a
 * flush to disk, so verify() checks the digest before a process first uses
 * a tree, and a tree damaged by a crash is built again.
 */
const MAGIC = Buffer.from("RDTREE01");
const DIGEST_BYTES = 32;
const TRAILER_BYTES = 16 + DIGEST_BYTES;

/**
 * Bumped whenever the layout or FolderJson changes; a stored tree of another
 * version is built again. Version 2 orders the folders segment by segment.
 */
export const LAYER_TREE_VERSION = 2;

/**
 * A folder record, with short keys because a tree has one per folder. `c`
 * lists the children as arrays (NodeJson), and is absent for a folder with
 * only whiteouts. `w` lists the whited-out names. `r` and `h` are the
 * replacesLower and hidesLowerChildren marks, present only when set.
 */
interface FolderJson {
  c?: NodeJson[];
  w?: string[];
  r?: 1;
  h?: 1;
}

type NodeJson =
  | [name: string, kind: "d", mode: number, modified: number, explicit: 0 | 1, replacesLower: 0 | 1, hidesLowerChildren: 0 | 1]
  | [
      name: string,
      kind: "f",
      mode: number,
      modified: number,
      dataOffset: number,
      size: number,
      sparse?: readonly number[],
    ]
  | [name: string, kind: "l", mode: number, modified: number, target: string]
  | [name: string, kind: "h", mode: number, modified: number, target: string, lowerTarget: 0 | 1];

/**
 * Yields the bytes of a stored layer tree, to be written to a file in order,
 * one record at a time. The folders must come in layer tree order, as
 * layerTreeFolders yields them.
 */
export function* layerTreeFile(folders: Iterable<[string, LayerFolder]>): Generator<Buffer> {
  const offsets: number[] = [];
  const hash = createHash("sha256");
  let offset = MAGIC.length;
  let previous: Buffer | undefined;
  hash.update(MAGIC);
  yield MAGIC;
  for (const [path, folder] of folders) {
    const pathBytes = Buffer.from(path, "utf8");
    if (previous !== undefined && comparePathBytes(previous, pathBytes) >= 0) {
      throw new Error(`layer tree folders out of order: ${JSON.stringify(path)} after ${JSON.stringify(previous.toString("utf8"))}`);
    }
    previous = pathBytes;
    const json = Buffer.from(JSON.stringify(folderJson(folder)), "utf8");
    const record = Buffer.concat([uint32(pathBytes.length), pathBytes, uint32(json.length), json]);
    offsets.push(offset);
    offset += record.length;
    hash.update(record);
    yield record;
  }

  const slots = Buffer.alloc(offsets.length * 8);
  offsets.forEach((recordOffset, slot) => slots.writeBigUInt64LE(BigInt(recordOffset), slot * 8));
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer.writeBigUInt64LE(BigInt(offsets.length), 0);
  trailer.writeBigUInt64LE(BigInt(offset), 8);
  hash.update(slots);
  hash.update(trailer.subarray(0, 16));
  hash.digest().copy(trailer, 16);
  yield slots;
  yield trailer;
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

function folderJson(folder: LayerFolder): FolderJson {
  const json: FolderJson = {};
  if (folder.children) json.c = [...folder.children].map(([name, node]) => nodeJson(name, node));
  if (folder.whiteouts.length > 0) json.w = [...folder.whiteouts];
  if (folder.replacesLower) json.r = 1;
  if (folder.hidesLowerChildren) json.h = 1;
  return json;
}

function nodeJson(name: string, node: LayerNode): NodeJson {
  const { mode, modified } = node;
  switch (node.kind) {
    case "directory":
      return [name, "d", mode, modified, bit(node.explicit), bit(node.replacesLower), bit(node.hidesLowerChildren)];
    case "file":
      if (node.sparse) return [name, "f", mode, modified, node.dataOffset, node.size, node.sparse];
      return [name, "f", mode, modified, node.dataOffset, node.size];
    case "symlink":
      return [name, "l", mode, modified, node.target];
    case "hardlink":
      return [name, "h", mode, modified, node.target, bit(node.lowerTarget)];
  }
}

function bit(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}

/**
 * A layer tree read from its file with positioned reads. Reads are
 * synchronous, because views walk folders synchronously. They are small and
 * usually hit the page cache. Each folder read opens the file and closes it
 * again, so no descriptor outlives the read, whenever a view is dropped.
 */
export class StoredLayerTree implements LayerTree {
  private constructor(
    private readonly path: string,
    private readonly folderCount: number,
    private readonly slotsOffset: number,
  ) {}

  /**
   * Checks that a stored tree's bytes match the digest in its trailer,
   * reading the file once. Throws naming the file when they do not.
   */
  static async verify(path: string): Promise<void> {
    const hash = createHash("sha256");
    const tail: Buffer[] = [];
    let tailBytes = 0;
    // The last TRAILER_BYTES - 16 bytes are the digest itself, so the hash stops before them.
    for await (const chunk of createReadStream(path)) {
      const bytes = chunk as Buffer;
      tail.push(bytes);
      tailBytes += bytes.length;
      while (tailBytes - tail[0]!.length >= DIGEST_BYTES) {
        const first = tail.shift()!;
        tailBytes -= first.length;
        hash.update(first);
      }
    }
    const rest = Buffer.concat(tail);
    if (rest.length < DIGEST_BYTES) throw new Error(`${path} is not a stored layer tree: it is too short`);
    hash.update(rest.subarray(0, rest.length - DIGEST_BYTES));
    if (!hash.digest().equals(rest.subarray(rest.length - DIGEST_BYTES))) {
      throw new Error(`${path} is damaged: its bytes do not match the SHA-256 in its trailer`);
    }
  }

  /** Opens a stored tree and checks its frame. Throws when the file is missing or not a layer tree. */
  static open(path: string): StoredLayerTree {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const magic = readAt(path, fd, 0, MAGIC.length);
      if (size < MAGIC.length + TRAILER_BYTES || !magic.equals(MAGIC)) {
        throw new Error(`${path} is not a stored layer tree: it does not start with ${MAGIC.toString()}`);
      }
      const trailer = readAt(path, fd, size - TRAILER_BYTES, TRAILER_BYTES);
      const folderCount = Number(trailer.readBigUInt64LE(0));
      const slotsOffset = Number(trailer.readBigUInt64LE(8));
      if (slotsOffset + folderCount * 8 + TRAILER_BYTES !== size) {
        throw new Error(`${path} is not a whole stored layer tree: its slot table does not end where its trailer starts`);
      }
      return new StoredLayerTree(path, folderCount, slotsOffset);
    } finally {
      closeSync(fd);
    }
  }

  folder(path: string): LayerFolder | undefined {
    const fd = openSync(this.path, "r");
    try {
      return this.find(fd, Buffer.from(path, "utf8"));
    } finally {
      closeSync(fd);
    }
  }

  private find(fd: number, key: Buffer): LayerFolder | undefined {
    let low = 0;
    let high = this.folderCount - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const recordOffset = Number(readAt(this.path, fd, this.slotsOffset + middle * 8, 8).readBigUInt64LE(0));
      const pathLength = readAt(this.path, fd, recordOffset, 4).readUInt32LE(0);
      const order = comparePathBytes(readAt(this.path, fd, recordOffset + 4, pathLength), key);
      if (order === 0) return this.readFolder(fd, recordOffset + 4 + pathLength);
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return undefined;
  }

  private readFolder(fd: number, offset: number): LayerFolder {
    const length = readAt(this.path, fd, offset, 4).readUInt32LE(0);
    const json = JSON.parse(readAt(this.path, fd, offset + 4, length).toString("utf8")) as FolderJson;
    const children = json.c && new Map(json.c.map((node) => [node[0], layerNodeOf(node)]));
    return {
      children,
      whiteouts: json.w ?? [],
      replacesLower: json.r === 1,
      hidesLowerChildren: json.h === 1,
    };
  }
}

function readAt(path: string, fd: number, position: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const count = readSync(fd, bytes, done, length - done, position + done);
    if (count === 0) throw new Error(`${path} ends at byte ${position + done}, inside a record`);
    done += count;
  }
  return bytes;
}

function layerNodeOf(json: NodeJson): LayerNode {
  switch (json[1]) {
    case "d": {
      const [, , mode, modified, explicit, replacesLower, hidesLowerChildren] = json;
      return {
        kind: "directory",
        mode,
        modified,
        explicit: explicit === 1,
        replacesLower: replacesLower === 1,
        hidesLowerChildren: hidesLowerChildren === 1,
      };
    }
    case "f": {
      const [, , mode, modified, dataOffset, size, sparse] = json;
      return { kind: "file", mode, modified, dataOffset, size, ...sparseOf(sparse) };
    }
    case "l": {
      const [, , mode, modified, target] = json;
      return { kind: "symlink", mode, modified, target };
    }
    case "h": {
      const [, , mode, modified, target, lowerTarget] = json;
      return { kind: "hardlink", mode, modified, target, lowerTarget: lowerTarget === 1 };
    }
  }
}
