import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { pushOciLayout, readLayoutIndex } from "../harness/layout-push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { encodePath, getBytes } from "./dav-client.js";

const files: Record<string, string> = {
  "etc/hello.txt": "hello\n",
  "srv/notes.txt": "a note of more than one line\nsecond line\n",
};

/**
 * An image built by `umoci insert`, one layer per file. umoci 0.4.7, the
 * version in Debian 12, writes each layer's tar without the padding after
 * the last content and without end-of-archive blocks; Go's archive/tar, and
 * so Docker and containerd, read such tars.
 */
describe("layers written by umoci insert", () => {
  let work: TempDir;
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let layerTars: Buffer[];

  const rootfs = (path: string) => `${regdav.url}${encodePath(`${registry.host}/umoci/inserted/_tags/v1/rootfs/${path}`)}`;

  beforeAll(async () => {
    const umoci = await requireTool("umoci");
    work = await makeTempDir("umoci-insert");
    const layout = join(work.path, "layout");
    await runCommand(umoci, ["init", "--layout", layout]);
    await runCommand(umoci, ["new", "--image", `${layout}:v1`]);
    for (const [path, content] of Object.entries(files)) {
      const source = join(work.path, "files", path);
      await mkdir(join(source, ".."), { recursive: true });
      await writeFile(source, content);
      await runCommand(umoci, ["insert", "--rootless", "--image", `${layout}:v1`, source, `/${path}`]);
    }
    layerTars = await layerTarsOf(layout);

    registry = await startRegistry();
    await pushOciLayout(layout, "v1", registry.host, "umoci/inserted");
    regdav = await startRegdav(["--registry", registry.host]);
  }, 120_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
    await work?.remove();
  });

  it("umoci leaves out the last padding", () => {
    expect(layerTars).toHaveLength(Object.keys(files).length);
    // If a later umoci pads its tars, this test no longer covers the unpadded shape.
    for (const [position, tar] of layerTars.entries()) {
      expect(tar.length % 512, `layer ${position + 1} is ${tar.length} bytes`).not.toBe(0);
    }
  });

  it("serves every inserted file", async () => {
    for (const [path, content] of Object.entries(files)) {
      const bytes = await getBytes(rootfs(path));
      expect(bytes.toString("utf8"), path).toBe(content);
    }
  });
});

/** Returns the uncompressed tar of each layer of the layout's `v1` image. */
async function layerTarsOf(layout: string): Promise<Buffer[]> {
  const [entry] = (await readLayoutIndex(layout)).filter((descriptor) => descriptor.annotations?.["org.opencontainers.image.ref.name"] === "v1");
  if (!entry) throw new Error(`${layout} has no v1 tag`);
  const blob = (digest: string) => readFile(join(layout, "blobs", ...digest.split(":")));
  const manifest = JSON.parse((await blob(entry.digest)).toString("utf8")) as { layers: { digest: string }[] };
  return Promise.all(manifest.layers.map(async (layer) => gunzipSync(await blob(layer.digest))));
}
