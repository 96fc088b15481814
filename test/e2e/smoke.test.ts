import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { makeImageConfig, makeLayer } from "../harness/image-builder.js";
import { pushImage } from "../harness/push.js";
import { getBytes, listNames } from "./dav-client.js";

describe("smoke", () => {
  let registry: TestRegistry;
  let regdav: RegdavProcess;

  beforeAll(async () => {
    registry = await startRegistry();
    const layer = await makeLayer([
      { type: "directory", path: "etc" },
      { type: "file", path: "etc/os-release", content: "ID=test\n" },
    ]);
    const config = makeImageConfig({ layers: [layer] });
    await pushImage(registry.host, "library/demo", "v1", { layers: [layer], config, format: "oci" });
    regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
  });

  afterAll(async () => {
    await regdav?.stop();
    await registry?.stop();
  });

  it("serves a file of the rootfs", async () => {
    const base = `${regdav.url}${registry.host}/library/demo/_tags/v1/`;
    expect(await listNames(base)).toContain("rootfs");
    const bytes = await getBytes(base + "rootfs/etc/os-release");
    expect(bytes.toString()).toBe("ID=test\n");
  });
});
