import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

import { writeWithBackpressure } from "../layer/indexing-sink.js";
import type { LayerEntrySink } from "../layer/index-layer.js";
import type { LayerEntry, TarLayerSummary } from "../layer/layer-index.js";
import type { AtomicFile } from "./atomic-file.js";

/**
 * A tar pass's totals with its entries, which a tree build reads in tar
 * order: from the cache one at a time (StoredTarEntries), or from memory.
 */
export interface TarListing extends TarLayerSummary {
  entries: Iterable<LayerEntry>;
}

/**
 * Raised while a stored tar listing is read when its entries file is missing
 * or damaged. The listing is then indexed again from the layer.
 */
export class DamagedListingError extends Error {
  override readonly name = "DamagedListingError";
}

/** Bytes of entry lines gathered before they are written to the file. */
const WRITE_BATCH_BYTES = 64 * 1024;

/** Bytes read from the entries file at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Writes a pass's entries to their cache file as the pass finds them, one
 * JSON object per line, in tar order. The pass waits on drained(), so only
 * one batch of lines and the file stream's buffer are ever in memory.
 */
export class TarEntriesWriter implements LayerEntrySink {
  private lines: string[] = [];
  private batchBytes = 0;

  constructor(private readonly file: AtomicFile) {}

  add(entry: LayerEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    this.lines.push(line);
    this.batchBytes += line.length;
  }

  drained(): Promise<void> {
    if (this.batchBytes < WRITE_BATCH_BYTES) return Promise.resolve();
    return this.writeBatch();
  }

  /** Writes the last lines. The caller then commits or aborts the file. */
  async end(): Promise<void> {
    if (this.lines.length > 0) await this.writeBatch();
  }

  private writeBatch(): Promise<void> {
    const text = this.lines.join("");
    this.lines = [];
    this.batchBytes = 0;
    return writeWithBackpressure(this.file.stream, Buffer.from(text, "utf8"));
  }
}

/**
 * The entries of a stored tar listing, read from their file in order each
 * time they are iterated. Reads are synchronous, as tree builds are. An
 * iteration throws DamagedListingError, naming the file, when the file is
 * missing, a line does not parse, or the file contains another number of
 * entries than the pass counted.
 */
export class StoredTarEntries implements Iterable<LayerEntry> {
  constructor(
    private readonly path: string,
    private readonly expectedCount: number,
  ) {}

  *[Symbol.iterator](): Generator<LayerEntry> {
    const fd = this.open();
    try {
      const chunk = Buffer.alloc(READ_CHUNK_BYTES);
      const decoder = new StringDecoder("utf8");
      let rest = "";
      let count = 0;
      for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
        // The decoder holds back the bytes of a character split between two reads.
        const lines = (rest + decoder.write(chunk.subarray(0, read))).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          count++;
          yield this.parse(line, count);
        }
      }
      rest += decoder.end();
      if (rest !== "") throw new DamagedListingError(`${this.path} ends inside entry ${count + 1}`);
      if (count !== this.expectedCount) {
        const problem = `contains ${count} entries, but its layer's pass found ${this.expectedCount}`;
        throw new DamagedListingError(`${this.path} ${problem}`);
      }
    } finally {
      closeSync(fd);
    }
  }

  private open(): number {
    try {
      return openSync(this.path, "r");
    } catch (error) {
      throw new DamagedListingError(`${this.path} cannot be opened: ${String(error)}`, { cause: error });
    }
  }

  private parse(line: string, number: number): LayerEntry {
    try {
      return JSON.parse(line) as LayerEntry;
    } catch (error) {
      throw new DamagedListingError(`${this.path}: entry ${number} is not JSON: ${String(error)}`);
    }
  }
}
