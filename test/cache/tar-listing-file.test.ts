import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { AtomicFile } from "../../src/cache/atomic-file.js";
import { StoredTarEntries, TarEntriesWriter } from "../../src/cache/tar-listing-file.js";
import type { LayerEntry } from "../../src/layer/layer-index.js";

function fileEntry(path: string, dataOffset: number): LayerEntry {
  return { path, type: "file", size: 3, mode: 0o644, modified: 1_700_000_000_000, dataOffset };
}

describe("stored tar entries", () => {
  let folder: string;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), "tar-listing-"));
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  /** Writes entries through the writer, waiting on drained() after each as a pass does. */
  async function writeEntries(entries: readonly LayerEntry[]): Promise<string> {
    const path = join(folder, "layer.entries.jsonl");
    const file = await AtomicFile.create(path);
    const writer = new TarEntriesWriter(file);
    for (const entry of entries) {
      writer.add(entry);
      await writer.drained();
    }
    await writer.end();
    await file.commit(false);
    return path;
  }

  it("reads entries back in order", async () => {
    // Long multi-byte names make lines that cross the reader's 64 KiB chunks inside a character.
    const entries = Array.from({ length: 3000 }, (_, index) =>
      fileEntry(`ünïcødé/日本語-${"é".repeat(index % 50)}/${index % 7}`, index * 512),
    );
    entries.push({ path: "link", type: "hardlink", size: 0, mode: 0o644, modified: 0, linkTarget: "ünïcødé" });
    entries.push(fileEntry("ünïcødé/日本語-/0", 42));
    const path = await writeEntries(entries);

    expect((await readFile(path)).length).toBeGreaterThan(3 * 64 * 1024);
    const stored = new StoredTarEntries(path, entries.length);
    expect([...stored]).toEqual(entries);
    expect([...stored], "a second iteration reads the file again").toEqual(entries);
  });

  it("reads an empty listing", async () => {
    const path = await writeEntries([]);
    expect([...new StoredTarEntries(path, 0)]).toEqual([]);
  });

  it("rejects a wrong entry count", async () => {
    const path = await writeEntries([fileEntry("a", 0), fileEntry("b", 512)]);
    expect(() => [...new StoredTarEntries(path, 3)]).toThrow(
      `${path} contains 2 entries, but its layer's pass found 3`,
    );
  });

  it("rejects a cut-off last entry", async () => {
    const path = await writeEntries([fileEntry("a", 0), fileEntry("b", 512)]);
    const text = await readFile(path, "utf8");
    await writeFile(path, text.slice(0, -5));
    expect(() => [...new StoredTarEntries(path, 2)]).toThrow(`${path} ends inside entry 2`);
  });

  it("rejects a line that is not JSON", async () => {
    const path = await writeEntries([fileEntry("a", 0)]);
    await writeFile(path, `${await readFile(path, "utf8")}{not json\n`);
    expect(() => [...new StoredTarEntries(path, 2)]).toThrow(`${path}: entry 2 is not JSON`);
  });
});
