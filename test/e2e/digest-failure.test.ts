import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  makeImageConfig,
  makeLayer,
  type Compression,
  type ImageBlob,
  type LayerBlob,
} from "../harness/image-builder.js";
import { pushImage, type PushedImage } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { encodePath, getBytes } from "./dav-client.js";

/** The content of the layer's one file. It names the repository, so no two layers share a blob. */
const contentOf = (repository: string) => `original content of the ${repository} layer file\n`;

type Outcome =
  | { kind: "status"; status: number; body: Buffer }
  | { kind: "aborted"; error: string };

/** GETs a URL and reports the status and body, or that the body was cut off. */
async function fetchOutcome(url: string): Promise<Outcome> {
  const response = await fetch(url);
  try {
    const body = Buffer.from(await response.arrayBuffer());
    return { kind: "status", status: response.status, body };
  } catch (error) {
    return { kind: "aborted", error: String(error) };
  }
}

function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === "aborted") return `aborted body (${outcome.error})`;
  return `status ${outcome.status} with body ${JSON.stringify(outcome.body.toString())}`;
}

/** Lists every file below a folder, relative to it. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

interface PushedSmallImage {
  pushed: PushedImage;
  config: ImageBlob;
}

async function pushSmallImage(host: string, repository: string): Promise<PushedSmallImage> {
  const content = contentOf(repository);
  const layer = await makeLayer([{ type: "file", path: "message.txt", content }]);
  const config = makeImageConfig({ layers: [layer], config: { Labels: { repository } } });
  const image = { layers: [layer], config, format: "oci" as const };
  const pushed = await pushImage(host, repository, "v1", image);
  return { pushed, config };
}

interface CorruptionCase {
  name: string;
  repository: string;
  compression: Compression;
  /** The offset of the flipped byte in the blob. */
  offset: (layer: LayerBlob) => number;
}

const cases: CorruptionCase[] = [
  {
    name: "file byte of an uncompressed layer",
    repository: "corrupt/plain",
    compression: "none",
    // The file content starts after the 512-byte header of the layer's first entry.
    offset: () => 512 + 3,
  },
  {
    name: "gzip header mtime, which gunzip ignores",
    repository: "corrupt/gzip-header",
    compression: "gzip",
    offset: () => 4,
  },
  {
    name: "deflate data of a gzip layer",
    repository: "corrupt/gzip-data",
    compression: "gzip",
    offset: (layer) => Math.floor(layer.size / 2),
  },
];

describe("digest failure", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  const layers = new Map<string, LayerBlob>();

  const blobPath = (digest: string) => {
    const hex = digest.slice("sha256:".length);
    return join(registry.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
  };
  const flipByte = async (digest: string, offset: number) => {
    const path = blobPath(digest);
    const bytes = await readFile(path);
    bytes[offset] = bytes[offset]! ^ 0xff;
    await writeFile(path, bytes);
  };
  const imageUrl = (repository: string, path: string) =>
    `${regdav.url}${encodePath(`${registry.host}/${repository}/_tags/v1/${path}`)}`;

  let configImage: PushedSmallImage;
  let manifestImage: PushedSmallImage;

  beforeAll(async () => {
    registry = await startRegistry();
    configImage = await pushSmallImage(registry.host, "corrupt/config");
    manifestImage = await pushSmallImage(registry.host, "corrupt/manifest");
    for (const { repository, compression } of cases) {
      const content = contentOf(repository);
      const layer = await makeLayer([{ type: "file", path: "message.txt", content }], {
        compression,
      });
      const config = makeImageConfig({ layers: [layer] });
      await pushImage(registry.host, repository, "v1", { layers: [layer], config, format: "oci" });
      layers.set(repository, layer);
    }
    regdav = await startRegdav(["--registry", registry.host]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  describe("config blob", () => {
    beforeAll(async () => {
      await flipByte(configImage.config.digest, 10);
    });

    it("config.json GET fails", async () => {
      const outcome = await fetchOutcome(imageUrl("corrupt/config", "config.json"));
      const failed = outcome.kind === "aborted" || outcome.status === 502;
      expect(failed, describeOutcome(outcome)).toBe(true);
    });

    it("cache keeps nothing of the config", async () => {
      const hex = configImage.config.digest.slice("sha256:".length);
      expect((await listFiles(regdav.cacheDir)).filter((file) => file.includes(hex))).toEqual([]);
    });

    it("restored config is served", async () => {
      await flipByte(configImage.config.digest, 10);
      const bytes = await getBytes(imageUrl("corrupt/config", "config.json"));
      expect(bytes.equals(configImage.config.bytes)).toBe(true);
    });
  });

  describe("manifest", () => {
    beforeAll(async () => {
      await flipByte(manifestImage.pushed.digest, 20);
    });

    it("tag folder fails with 502", async () => {
      const url = imageUrl("corrupt/manifest", "");
      const response = await fetch(url, { method: "PROPFIND", headers: { Depth: "1" } });
      const body = await response.text();
      expect(response.status, body).toBe(502);
    });

    it("restored manifest is served", async () => {
      await flipByte(manifestImage.pushed.digest, 20);
      const bytes = await getBytes(imageUrl("corrupt/manifest", "manifest.json"));
      expect(bytes.equals(manifestImage.pushed.manifest.bytes)).toBe(true);
    });
  });

  for (const { name, repository, offset } of cases) {
    describe(name, () => {
      const layer = () => layers.get(repository)!;
      const hex = () => layer().digest.slice("sha256:".length);
      const rawName = () => {
        const extension = layer().mediaType.endsWith("gzip") ? ".tar.gz" : ".tar";
        return `layers/1-${hex().slice(0, 12)}${extension}`;
      };

      beforeAll(async () => {
        await flipByte(layer().digest, offset(layer()));
      });

      it("rootfs file GET fails", async () => {
        const outcome = await fetchOutcome(imageUrl(repository, "rootfs/message.txt"));
        const failed = outcome.kind === "aborted" || outcome.status === 502;
        expect(failed, describeOutcome(outcome)).toBe(true);
      });

      it("raw layer GET fails", async () => {
        const outcome = await fetchOutcome(imageUrl(repository, rawName()));
        const failed = outcome.kind === "aborted" || outcome.status === 502;
        expect(failed, describeOutcome(outcome)).toBe(true);
      });

      it("layer folder listing fails", async () => {
        const url = imageUrl(repository, rawName().replace(/\.tar(\.gz)?$/, "/"));
        const response = await fetch(url, { method: "PROPFIND", headers: { Depth: "1" } });
        await response.arrayBuffer();
        expect(response.status).toBe(502);
      });

      it("cache keeps nothing of the layer", async () => {
        const files = await listFiles(regdav.cacheDir);
        expect(files.filter((file) => file.includes(hex()))).toEqual([]);
      });

      it("restored blob is served with the right content", async () => {
        await flipByte(layer().digest, offset(layer()));
        const bytes = await getBytes(imageUrl(repository, "rootfs/message.txt"));
        expect(bytes.toString()).toBe(contentOf(repository));
        const raw = await getBytes(imageUrl(repository, rawName()));
        expect(raw.equals(layer().bytes)).toBe(true);
      });

      it("cache holds the layer after the restore", async () => {
        const files = await listFiles(regdav.cacheDir);
        expect(files.filter((file) => file.includes(hex())).length).toBeGreaterThan(0);
      });
    });
  }
});
