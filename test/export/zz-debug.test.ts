import { it } from "vitest";
import { startRegistry } from "/work/main/test/harness/registry.js";
import { startRegdav } from "/work/main/test/harness/regdav-process.js";
import { pushExportImages } from "/work/main/test/export/export-images.js";
import { writeFile } from "node:fs/promises";
it("debug", async () => {
  const registry = await startRegistry({ schema1: true });
  await pushExportImages(registry.host);
  const regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
  await writeFile("/tmp/exp/info.json", JSON.stringify({ host: registry.host, url: regdav.url }));
  await new Promise((r) => setTimeout(r, 1000_000));
}, 2000_000);
