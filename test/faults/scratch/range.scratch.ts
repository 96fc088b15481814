import { it } from "vitest";
import { startRegdav } from "../../harness/regdav-process.js";
import { startRegistry } from "../../harness/registry.js";
import { encodePath, httpRequest, portOf, pushLayerImage, rawRequest } from "../fault-fixtures.js";

it("range probes", async () => {
  const registry = await startRegistry();
  await pushLayerImage(registry.host, "r/x", [{ type: "file", path: "f.txt", content: "0123456789" }]);
  const regdav = await startRegdav(["--registry", registry.host]);
  const port = portOf(regdav.url);
  const path = "/" + encodePath(`${registry.host}/r/x/_tags/v1/rootfs/f.txt`);
  const ranges = ["bytes=-0", "bytes=0-0,2-2", "bytes=99999999999999999999999-", "bytes=5-2", "bytes=" + "0-1,".repeat(2000) + "0-1", "bytes=-99999999999999999999", "bytes=9-", "bytes=10-", "bytes=abc", "items=0-1", "bytes=0x1-2", "bytes= 1-2", "bytes=1-2 ", "bytes=-5"];
  for (const range of ranges) {
    const r = await rawRequest(port, httpRequest("GET", path, [`Range: ${range}`]));
    console.log(JSON.stringify(range.slice(0, 40)), r.status, JSON.stringify(r.body.slice(0, 80)), /content-range: .*/i.exec(r.text)?.[0]);
  }
  for (const target of ["http://evil.example/%2e%2e/x", "http://evil.example", "*", "//" + registry.host + "/", "/%2e", "HTTP://x/../y"]) {
    const r = await rawRequest(port, httpRequest("GET", target));
    console.log("target", JSON.stringify(target), r.status, JSON.stringify(r.body.slice(0, 100)));
  }
  for (const h of ["If-None-Match: " + '"x",'.repeat(3000), "If-Modified-Since: garbage", "If-Range: " + "x".repeat(5000), "Depth: 0", "Accept: application/json"]) {
    const r = await rawRequest(port, httpRequest("GET", path, [h]));
    console.log("header", h.slice(0, 30), r.status, JSON.stringify(r.body.slice(0, 60)));
  }
  await regdav.stop(); await registry.stop();
});
