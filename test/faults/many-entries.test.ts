import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createGzip } from "node:zlib";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeBlob, makeImageConfig, mediaTypes, type LayerBlob } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { listEntries } from "../e2e/dav-client.js";
import {
  bodyOf,
  encodePath,
  fetchOutcome,
  rawTarHeader,
  TAR_END,
  tarPadding,
} from "./fault-fixtures.js";

/** 1000 folders of 1000 files each, plus the folders: 1,001,000 tar entries. */
const FOLDERS = 1000;
const FILES_PER_FOLDER = 1000;
/** Generous bounds for a 2-core CI machine; a run on one took well under them. */
const MAX_PEAK_RESIDENT_BYTES = 1.5 * 1024 ** 3;
const MAX_FIRST_LISTING_MS = 120_000;

const folderName = (folder: number) => `d${String(folder).padStart(4, "0")}`;
const fileName = (file: number) => `f${String(file).padStart(4, "0")}`;
/** Every 100th file contains its own path, and the others are empty. */
const contentOf = (folder: number, file: number) =>
  file % 100 === 0 ? Buffer.from(`${folderName(folder)}/${fileName(file)}\n`) : Buffer.alloc(0);

/** Builds the gzip layer by writing tar headers directly, which takes seconds, not minutes. */
async function makeManyEntriesLayer(): Promise<LayerBlob> {
  const gzipper = createGzip({ level: 1 });
  const compressed: Buffer[] = [];
  gzipper.on("data", (chunk: Buffer) => compressed.push(chunk));
  const done = new Promise((resolve) => gzipper.on("end", resolve));
  const diffId = createHash("sha256");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    diffId.update(chunk);
    if (!gzipper.write(chunk)) await new Promise((resolve) => gzipper.once("drain", resolve));
  };
  const add = async (part: Buffer) => {
    pending.push(part);
    pendingBytes += part.length;
    if (pendingBytes >= 4 * 1024 * 1024) await flush();
  };

  for (let folder = 0; folder < FOLDERS; folder++) {
    await add(rawTarHeader(`${folderName(folder)}/`, 0, "directory"));
    for (let file = 0; file < FILES_PER_FOLDER; file++) {
      const content = contentOf(folder, file);
      await add(rawTarHeader(`${folderName(folder)}/${fileName(file)}`, content.length));
      if (content.length > 0) await add(Buffer.concat([content, tarPadding(content.length)]));
    }
  }
  await add(TAR_END);
  await flush();
  gzipper.end();
  await done;
  return {
    ...makeBlob(mediaTypes.ociLayerGzip, Buffer.concat(compressed)),
    diffId: `sha256:${diffId.digest("hex")}`,
    uncompressed: Buffer.alloc(0),
  };
}

async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
}

describe("layer with a million entries", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let firstListingMs = 0;
  let firstListingNames: string[] = [];

  const url = (path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/many/entries/_tags/v1/rootfs/${path}`)}`;

  beforeAll(async () => {
    registry = await startRegistry();
    const layer = await makeManyEntriesLayer();
    const config = makeImageConfig({ layers: [layer] });
    await pushImage(registry.host, "many/entries", "v1", {
      layers: [layer],
      config,
      format: "oci",
    });
    regdav = await startRegdav(["--registry", registry.host]);

    const started = Date.now();
    firstListingNames = (await listEntries(url(`${folderName(500)}/`))).map((entry) => entry.name);
    firstListingMs = Date.now() - started;
  }, 240_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("first listing, which indexes the layer, is bounded in time", () => {
    expect(firstListingMs).toBeLessThan(MAX_FIRST_LISTING_MS);
  });

  it("folder lists its 1000 files", () => {
    expect(firstListingNames.length).toBe(FILES_PER_FOLDER);
    expect(firstListingNames[0]).toBe("f0000");
    expect(firstListingNames.at(-1)).toBe("f0999");
  });

  it("root lists the 1000 folders", async () => {
    const names = (await listEntries(url(""))).map((entry) => entry.name);
    expect(names.length).toBe(FOLDERS);
  });

  it("files read back", async () => {
    for (const [folder, file] of [
      [0, 0],
      [999, 900],
      [500, 1],
    ] as const) {
      const outcome = await fetchOutcome(url(`${folderName(folder)}/${fileName(file)}`));
      const expected = contentOf(folder, file);
      expect(outcome.status, `${folder}/${file}`).toBe(200);
      expect(bodyOf(outcome)?.equals(expected), `${folder}/${file}`).toBe(true);
    }
  });

  it("peak memory is bounded", async () => {
    const peak = await peakResidentBytes(regdav.pid);
    console.log(
      `regdav peak RSS ${(peak / 1024 ** 2).toFixed(0)} MiB, first listing ${firstListingMs} ms`,
    );
    expect(peak).toBeLessThan(MAX_PEAK_RESIDENT_BYTES);
  });
});
