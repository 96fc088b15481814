import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { notFound, RegdavError } from "../../src/errors.js";
import type { ByteRange, NodeInfo, VirtualTree } from "../../src/tree/virtual-tree.js";

/** Options of one in-memory file or folder. */
export interface NodeOptions {
  contentType?: string;
  etag?: string;
  modified?: Date;
  /** Thrown by stat. */
  statError?: RegdavError;
  /** Thrown by list (folders) or read (files). */
  openError?: RegdavError;
  /** A file's read stream sends this many bytes, then errors as if verification failed. */
  failAfterBytes?: number;
}

interface MemoryNode {
  name: string;
  options: NodeOptions;
  content?: Buffer;
  children?: Map<string, MemoryNode>;
}

const FIXED_DATE = new Date("2024-05-06T07:08:09Z");

/** Chunk size of read streams, so that large files arrive in many chunks. */
const CHUNK_BYTES = 64 * 1024;

/** A VirtualTree held in memory, with switches for the failures the adapter must handle. */
export class MemoryTree implements VirtualTree {
  readonly calls = { stat: 0, list: 0, read: 0 };
  private readonly root: MemoryNode = { name: "", options: {}, children: new Map() };

  addFolder(path: string[], options: NodeOptions = {}): this {
    this.insert(path, { name: lastOf(path), options, children: new Map() });
    return this;
  }

  addFile(path: string[], content: Buffer | string, options: NodeOptions = {}): this {
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    this.insert(path, { name: lastOf(path), options, content: bytes });
    return this;
  }

  async stat(path: readonly string[]): Promise<NodeInfo> {
    this.calls.stat++;
    const node = this.find(path);
    if (node.options.statError) throw node.options.statError;
    return infoOf(node);
  }

  async list(path: readonly string[]): Promise<NodeInfo[]> {
    this.calls.list++;
    const node = this.find(path);
    if (node.children === undefined) {
      throw new RegdavError("NOT_A_DIRECTORY", `${path.join("/")} is a file`);
    }
    if (node.options.openError) throw node.options.openError;
    return [...node.children.values()].map(infoOf);
  }

  async read(path: readonly string[], range?: ByteRange): Promise<Readable> {
    this.calls.read++;
    const node = this.find(path);
    if (node.content === undefined) {
      throw new RegdavError("IS_A_DIRECTORY", `${path.join("/")} is a folder`);
    }
    if (node.options.openError) throw node.options.openError;

    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : node.content.length;
    return chunkedStream(node.content.subarray(start, end), node.options.failAfterBytes);
  }

  private find(path: readonly string[]): MemoryNode {
    let node = this.root;
    for (const name of path) {
      const child = node.children?.get(name);
      if (child === undefined) throw notFound(`no such file or folder: /${path.join("/")}`);
      node = child;
    }
    return node;
  }

  private insert(path: string[], node: MemoryNode): void {
    const parent = this.find(path.slice(0, -1));
    if (parent.children === undefined) {
      throw new Error(`cannot add ${path.join("/")}: parent is a file`);
    }
    parent.children.set(node.name, node);
  }
}

function infoOf(node: MemoryNode): NodeInfo {
  const isFolder = node.children !== undefined;
  return {
    name: node.name,
    type: isFolder ? "directory" : "file",
    size: node.content?.length ?? 0,
    modified: node.options.modified ?? FIXED_DATE,
    etag: node.options.etag,
    contentType: node.options.contentType,
  };
}

/** Streams `bytes` in chunks, one per event loop turn, and errors after `failAfter` bytes when given. */
function chunkedStream(bytes: Buffer, failAfter?: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      setImmediate(() => {
        if (failAfter !== undefined && offset >= failAfter) {
          this.destroy(
            new RegdavError("DIGEST_MISMATCH", "layer content does not match its digest"),
          );
          return;
        }
        const limit = failAfter === undefined ? bytes.length : Math.min(failAfter, bytes.length);
        if (offset >= limit) {
          this.push(null);
          return;
        }
        const chunk = bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, limit));
        offset += chunk.length;
        this.push(chunk);
      });
    },
  });
}

function lastOf(path: string[]): string {
  const name = path[path.length - 1];
  if (name === undefined) throw new Error("a node path needs at least one segment");
  return name;
}

/** Returns `length` deterministic pseudo-random bytes (xorshift32 from `seed`). */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export function sha256Of(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
