import { it } from "vitest";
import { startRegdav } from "../../harness/regdav-process.js";
import { startRegistry } from "../../harness/registry.js";
import { encodePath, httpRequest, portOf, pushLayerImage, rawRequest } from "../fault-fixtures.js";

it("propfind amplification", async () => {
  const registry = await startRegistry();
  const entries = Array.from({ length: 500 }, (_, i) => ({ type: "file" as const, path: `d/f${i}`, content: "x" }));
  await pushLayerImage(registry.host, "amp/x", entries);
  const regdav = await startRegdav(["--registry", registry.host]);
  const port = portOf(regdav.url);
  const path = "/" + encodePath(`${registry.host}/amp/x/_tags/v1/rootfs/d/`);
  for (const n of [1, 100, 1000, 5000]) {
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + "<D:getetag/>".repeat(n) + "</D:prop></D:propfind>";
    const t = Date.now();
    const r = await rawRequest(port, httpRequest("PROPFIND", path, ["Depth: 1"], body), 300_000);
    console.log(n, r.status, Date.now() - t, "ms", r.text.length, "bytes");
  }
  for (const n of [1000, 5000]) {
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + Array.from({length: n}, (_, i) => `<D:p${i}/>`).join("") + "</D:prop></D:propfind>";
    const t = Date.now();
    const r = await rawRequest(port, httpRequest("PROPFIND", path, ["Depth: 1"], body), 300_000);
    console.log("distinct", n, Buffer.byteLength(body), r.status, Date.now() - t, "ms", r.text.length, "bytes");
  }
  await regdav.stop(); await registry.stop();
});
