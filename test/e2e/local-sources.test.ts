import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeImageConfig, makeLayer } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { runSkopeo } from "../harness/skopeo.js";
import { makeTempDir, requireTool, runCommand, type TempDir } from "../harness/tools.js";
import { getBytes, propfind } from "./dav-client.js";

/**
 * One image is served four ways: from the registry, an OCI layout folder,
 * an OCI archive and a docker save archive. Each must show the same root
 * filesystem and config through the share, since the tree does not know
 * which kind of source it shows.
 */
describe("local sources through the share", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;
  let work: TempDir;
  let folders: Record<string, string>;

  beforeAll(async () => {
    registry = await startRegistry();
    const base = await makeLayer([
      { type: "directory", path: "etc" },
      { type: "file", path: "etc/os-release", content: "ID=local\n" },
      { type: "file", path: "etc/removed", content: "gone\n" },
      { type: "directory", path: "usr/bin" },
      { type: "file", path: "usr/bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
      { type: "symlink", path: "bin", target: "usr/bin" },
    ]);
    const upper = await makeLayer([
      { type: "file", path: "etc/.wh.removed", content: "" },
      { type: "file", path: "etc/motd", content: "hello from the upper layer\n" },
    ]);
    const config = makeImageConfig({ layers: [base, upper] });
    await pushImage(registry.host, "demo/app", "v1", { layers: [base, upper], config, format: "oci" });

    await requireTool("tar");
    work = await makeTempDir("local-sources");
    const layout = join(work.path, "layout");
    const archive = join(work.path, "layout.tar");
    const saved = join(work.path, "saved.tar");
    const from = `docker://${registry.host}/demo/app:v1`;
    await runSkopeo([], "copy", ["--quiet", "--src-tls-verify=false", from, `oci:${layout}:v1`]);
    await runCommand("tar", ["-cf", archive, "-C", layout, "."]);
    await runSkopeo([], "copy", ["--quiet", "--src-tls-verify=false", from, `docker-archive:${saved}:demo/app:v1`]);

    regdav = await startRegdav([
      "--registry", registry.host,
      "--source", `layout=${layout}`,
      "--source", `archive=${archive}`,
      "--source", `saved=${saved}`,
    ]);
    folders = {
      registry: `${registry.host}/demo/app/_tags/v1/`,
      layout: "layout/layout/_tags/v1/",
      archive: "archive/archive/_tags/v1/",
      saved: "saved/demo/app/_tags/v1/",
    };
  }, 180_000);

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
    await work?.remove();
  });

  /** Lists every file below a folder of the share as path, size and content. */
  async function walk(url: string, prefix = ""): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    const self = new URL(url).pathname;
    for (const entry of await propfind(url, "1")) {
      if (decodeURIComponent(new URL(entry.href, url).pathname) === decodeURIComponent(self)) continue;
      const path = prefix + entry.name;
      const child = url + encodeURIComponent(entry.name) + (entry.isFolder ? "/" : "");
      if (entry.isFolder) {
        for (const [name, content] of await walk(child, path + "/")) files.set(name, content);
      } else {
        files.set(path, `${entry.size}:${(await getBytes(child)).toString("base64")}`);
      }
    }
    return files;
  }

  it("root lists every source beside the registry", async () => {
    const names = (await propfind(regdav.url, "1")).map((entry) => entry.name).filter(Boolean).sort();
    expect(names).toEqual(["archive", "layout", registry.host, "saved"].sort());
  });

  it("registry rootfs holds the merged files", async () => {
    const files = await walk(regdav.url + folders.registry + "rootfs/");
    expect([...files.keys()].sort()).toEqual(["bin/tool", "etc/motd", "etc/os-release", "usr/bin/tool"]);
  });

  for (const kind of ["layout", "archive", "saved"]) {
    it(`${kind} rootfs equals the registry's`, async () => {
      const expected = await walk(regdav.url + folders.registry + "rootfs/");
      const actual = await walk(regdav.url + folders[kind]! + "rootfs/");
      expect(actual).toEqual(expected);
    });

    it(`${kind} config.json equals the registry's`, async () => {
      const expected = await getBytes(regdav.url + folders.registry + "config.json");
      const actual = await getBytes(regdav.url + folders[kind]! + "config.json");
      expect(actual.equals(expected)).toBe(true);
    });
  }

  it("layout serves the registry's manifest bytes", async () => {
    const expected = await getBytes(regdav.url + folders.registry + "manifest.json");
    const actual = await getBytes(regdav.url + folders.layout + "manifest.json");
    expect(actual.equals(expected)).toBe(true);
  });
});
