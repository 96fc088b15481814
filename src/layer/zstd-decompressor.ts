import { Duplex, type Transform } from "node:stream";
import * as zlib from "node:zlib";

import { Decompress } from "fzstd";

import { log } from "../log.js";

interface NodeZstd {
  createZstdDecompress?: () => Transform;
  zstdCompressSync?: (data: Buffer) => Buffer;
  zstdDecompressSync?: (data: Buffer) => Buffer;
}

let nodeDecoderWorks: boolean | undefined;

/**
 * Creates a zstd decompressing stream that reads concatenated frames and
 * skips skippable frames: Node's own (`zlib.createZstdDecompress`, added in
 * Node 22.15 and 23.8) when it passes a self-test, else fzstd's pure-JS
 * streaming decoder. Node 22.23.5's decoder stops after the first frame,
 * and Node 24.22.3's reads them all.
 */
export function createZstdDecompressor(): Duplex {
  const factory = (zlib as NodeZstd).createZstdDecompress;
  if (factory !== undefined && isNodeZstdUsable()) return factory();
  return new FzstdDecompressor();
}

/**
 * Tells whether Node's zstd decoder exists and reads two frames with a
 * skippable frame between them, as a layer of several frames needs. The
 * synchronous function is tested in place of the stream. The check runs
 * once, and a decoder that exists but fails it is logged.
 */
export function isNodeZstdUsable(): boolean {
  if (nodeDecoderWorks === undefined) {
    nodeDecoderWorks = testNodeZstd();
    if (!nodeDecoderWorks && (zlib as NodeZstd).createZstdDecompress !== undefined) {
      log.warn("Node's zstd decoder failed its check of several frames, decoding zstd with fzstd instead", { node: process.version });
    }
  }
  return nodeDecoderWorks;
}

function testNodeZstd(): boolean {
  const { createZstdDecompress, zstdCompressSync, zstdDecompressSync } = zlib as NodeZstd;
  if (!createZstdDecompress || !zstdCompressSync || !zstdDecompressSync) return false;
  try {
    const skippable = Buffer.alloc(12);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(4, 4);
    const frames = [zstdCompressSync(Buffer.from("first ")), skippable, zstdCompressSync(Buffer.from("second"))];
    return zstdDecompressSync(Buffer.concat(frames)).toString() === "first second";
  } catch {
    return false;
  }
}

/**
 * Input is fed to fzstd in small slices because one compressed byte can
 * expand to 32 KiB (an RLE block is 128 KiB from 4 bytes). The output of one
 * slice stays in memory until the reader takes it, at most 8 MiB per slice.
 */
const FZSTD_SLICE_SIZE = 256;

// NOTE: fzstd allocates each frame's window as its header declares, up to
// 2 GiB, so a hostile frame header can cost that much memory. Node's decoder
// rejects windows above 128 MiB by default. fzstd 0.1 also skips the
// optional XXH64 content checksum. Corruption inside a block then shows up
// as a tar error, and the source's blob digest check catches it as well.
/**
 * fzstd's streaming decoder as a Duplex. It feeds one slice at a time and
 * waits for the reader after a slice whose output filled the readable
 * buffer. It is a Duplex of its own rather than Duplex.from() of a
 * generator, because on Node 22.23.5 a pipeline whose later stream fails
 * never ends while such a generator waits at a yield.
 */
class FzstdDecompressor extends Duplex {
  private readonly decoder = new Decompress((data) => {
    if (data.length === 0) return;
    if (!this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength))) this.readerFull = true;
  });
  private readerFull = false;
  private input: { chunk: Buffer; offset: number; callback: (error?: Error | null) => void } | undefined;
  private finalCallback: ((error?: Error | null) => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.input = { chunk, offset: 0, callback };
    this.feed();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finalCallback = callback;
    this.feed();
  }

  override _read(): void {
    this.readerFull = false;
    this.feed();
  }

  /** Feeds slices until the reader is full or the input runs out, then ends the output after the last write. */
  private feed(): void {
    try {
      while (this.input && !this.readerFull) {
        const { chunk, offset, callback } = this.input;
        if (offset >= chunk.length) {
          this.input = undefined;
          callback();
          return;
        }
        this.input.offset = offset + FZSTD_SLICE_SIZE;
        this.decoder.push(chunk.subarray(offset, offset + FZSTD_SLICE_SIZE));
      }
      if (this.input || !this.finalCallback) return;
      const callback = this.finalCallback;
      this.finalCallback = undefined;
      this.decoder.push(new Uint8Array(0), true);
      this.push(null);
      callback();
    } catch (error) {
      this.destroy(error as Error);
    }
  }
}
