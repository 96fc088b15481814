import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { deserialize, serialize } from "node:v8";

import { sparseOf, type DirectoryNode, type TreeNode } from "./view-tree.js";

/** Creates the folders of a tree that is being built, in place of createDirectory's plain objects. */
export interface FolderFactory {
  create(path: string, mode: number, modified: number): DirectoryNode;
  /** Called by the builder after each entry, when no folder map is in use. */
  checkpoint(): void;
}

/**
 * Children of resident folders, counted together, above which the least
 * recently used folders are written to the spill file. At about 190 bytes
 * per node in a built tree, this keeps roughly 3 MiB of folders. On the
 * 306,603 entries of the 300,000-file bench layer, a one-off measurement
 * gave a peak heap of 30 MiB against 61 MiB in memory, and a build of
 * 1.2 s against 1.0 s. A budget of 131,072 kept the peak at 58 MiB.
 */
export const RESIDENT_NODE_BUDGET = 16_384;

/** Entries between two checks of the resident folders against the budget. */
const ENTRIES_PER_CHECK = 1024;

export interface SpillOptions {
  /** Children of resident folders, counted together, above which folders are written out. */
  budget?: number;
  /** Entries between two checks against the budget. */
  entriesPerCheck?: number;
}

/** A serialized child: its name, then a kind code and the node's fields. */
type SpilledChild =
  | [name: string, kind: 0, id: number, path: string, mode: number, modified: number, explicit: 0 | 1, replacedFile: 0 | 1]
  | [name: string, kind: 1, mode: number, modified: number, dataOffset: number, size: number, sparse?: readonly number[]]
  | [name: string, kind: 2, mode: number, modified: number, target: string]
  | [name: string, kind: 3, mode: number, modified: number, target: string, lowerTarget: 0 | 1];

/**
 * Stores the children of a layer's own tree while it is built. Recently
 * used folders stay in memory and the rest go to a spill file. A build's
 * memory then depends on the budget and the largest folder, not on the
 * number of entries. Tar writers list a folder's entries together, so most
 * folders are written out once, after the pass has left them.
 *
 * Folders are DirectoryNodes whose `children` map is loaded on access.
 * Folders are written out only in checkpoint() and release(), which the
 * builder calls between entries, so a map in use is never written out
 * while it can still change. Call close() to delete the spill file.
 */
export class SpilledFolders implements FolderFactory {
  private readonly resident = new Map<number, Map<string, TreeNode>>();
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  /** When each folder was last used, as a count of children() calls, to write out the oldest first. */
  private readonly lastUsed: number[] = [];
  private uses = 0;
  private fd: number | undefined;
  private spillSize = 0;
  /** Folders written to the spill file so far, counting a folder again each time it is written. */
  spilledCount = 0;
  private entriesSinceCheck = 0;

  private readonly budget: number;
  private readonly entriesPerCheck: number;

  constructor(
    private readonly spillPath: string,
    options: SpillOptions = {},
  ) {
    this.budget = options.budget ?? RESIDENT_NODE_BUDGET;
    this.entriesPerCheck = options.entriesPerCheck ?? ENTRIES_PER_CHECK;
  }

  create(path: string, mode: number, modified: number): DirectoryNode {
    const id = this.offsets.length;
    this.offsets.push(-1);
    this.lengths.push(0);
    this.lastUsed.push(++this.uses);
    this.resident.set(id, new Map());
    return new SpilledDirectory(this, id, path, mode, modified, false, false);
  }

  /** Returns a folder's children, reading them from the spill file when they are not in memory. */
  children(id: number): Map<string, TreeNode> {
    this.lastUsed[id] = ++this.uses;
    const known = this.resident.get(id);
    if (known !== undefined) return known;
    const loaded = this.load(id);
    this.resident.set(id, loaded);
    return loaded;
  }

  /** Counts one applied entry, and every `entriesPerCheck` entries writes out folders over the budget. */
  checkpoint(): void {
    if (++this.entriesSinceCheck < this.entriesPerCheck) return;
    this.entriesSinceCheck = 0;
    let nodes = 0;
    for (const children of this.resident.values()) nodes += children.size;
    if (nodes <= this.budget) return;
    const oldestFirst = [...this.resident.keys()].sort((a, b) => this.lastUsed[a]! - this.lastUsed[b]!);
    for (const id of oldestFirst) {
      if (nodes <= this.budget) break;
      // The root stays, because every lookup starts there.
      if (id === 0) continue;
      const children = this.resident.get(id)!;
      nodes -= children.size;
      this.spill(id, children);
    }
  }

  /** Drops a folder's children from memory without writing them, once nothing will read them again. */
  release(id: number): void {
    this.resident.delete(id);
  }

  /** Deletes the spill file. The folders must not be read afterwards. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.resident.clear();
    rmSync(this.spillPath, { force: true });
  }

  private spill(id: number, children: Map<string, TreeNode>): void {
    const bytes = serialize([...children].map(([name, node]) => spilledChild(name, node)));
    this.fd ??= openSync(this.spillPath, "w+");
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(this.fd, bytes, written, bytes.length - written, this.spillSize + written);
    }
    this.offsets[id] = this.spillSize;
    this.lengths[id] = bytes.length;
    this.spillSize += bytes.length;
    this.spilledCount++;
    this.resident.delete(id);
  }

  private load(id: number): Map<string, TreeNode> {
    const offset = this.offsets[id];
    const length = this.lengths[id];
    if (offset === undefined || length === undefined || offset < 0 || this.fd === undefined) {
      throw new Error(`${this.spillPath}: folder ${id} is neither in memory nor in the spill file`);
    }
    const bytes = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const count = readSync(this.fd, bytes, read, length - read, offset + read);
      if (count === 0) throw new Error(`${this.spillPath} ends inside folder ${id}`);
      read += count;
    }
    const records = deserialize(bytes) as SpilledChild[];
    return new Map(records.map((record) => [record[0], this.nodeOf(record)]));
  }

  private nodeOf(record: SpilledChild): TreeNode {
    switch (record[1]) {
      case 0: {
        const [, , id, path, mode, modified, explicit, replacedFile] = record;
        return new SpilledDirectory(this, id, path, mode, modified, explicit === 1, replacedFile === 1);
      }
      case 1: {
        const [, , mode, modified, dataOffset, size, sparse] = record;
        return { kind: "file", mode, modified, content: { layerIndex: 0, dataOffset, size, ...sparseOf(sparse) } };
      }
      case 2: {
        const [, , mode, modified, target] = record;
        return { kind: "symlink", mode, modified, target };
      }
      case 3: {
        const [, , mode, modified, target, lowerTarget] = record;
        return { kind: "hardlink", mode, modified, target, lowerTarget: lowerTarget === 1 };
      }
    }
  }
}

/** A folder of a tree built with SpilledFolders. Its children are loaded when read. */
export class SpilledDirectory implements DirectoryNode {
  readonly kind = "directory";

  constructor(
    private readonly folders: SpilledFolders,
    readonly id: number,
    readonly path: string,
    public mode: number,
    public modified: number,
    public explicit: boolean,
    public replacedFile: boolean,
  ) {}

  get children(): Map<string, TreeNode> {
    return this.folders.children(this.id);
  }
}

function spilledChild(name: string, node: TreeNode): SpilledChild {
  const { mode, modified } = node;
  switch (node.kind) {
    case "directory": {
      if (!(node instanceof SpilledDirectory)) throw new Error(`folder ${node.path} was not made by SpilledFolders`);
      return [name, 0, node.id, node.path, mode, modified, bit(node.explicit), bit(node.replacedFile)];
    }
    case "file": {
      const { dataOffset, size, sparse } = node.content;
      if (sparse) return [name, 1, mode, modified, dataOffset, size, sparse];
      return [name, 1, mode, modified, dataOffset, size];
    }
    case "symlink":
      return [name, 2, mode, modified, node.target];
    case "hardlink":
      return [name, 3, mode, modified, node.target, bit(node.lowerTarget)];
  }
}

function bit(value: boolean): 0 | 1 {
  return value ? 1 : 0;
}
