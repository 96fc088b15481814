import { it } from "vitest";
import { startRegistry } from "../../harness/registry.js";
import { startRegdav } from "../../harness/regdav-process.js";
import { makeImageConfig, makeLayer, makeLayerTar, gzip, makeBlob, sha256Digest, mediaTypes } from "../../harness/image-builder.js";
import { pushImage } from "../../harness/push.js";
import { listEntries, encodePath, davRequest } from "../dav-client.js";
it("names", async () => {
  const registry = await startRegistry();
  const names = ["back\\slash.txt", "tab\there.txt", "new\nline.txt", "del\x7f.txt", "star*pipe|.txt", "   ", "...", "~tilde", "trailing space ", " leading", "é".repeat(200) + ".txt", "semi;colon=eq,comma.txt", "[brackets]{braces}.txt", "`backtick`$dollar.txt", "caf\u0065\u0301.txt", "café.txt"];
  const entries: any[] = [{ type: "directory", path: "n" }];
  for (const n of names) entries.push({ type: "file", path: `n/${n}`, content: `c ${JSON.stringify(n)}\n` });
  entries.push({ type: "directory", path: "usr/lib" }, { type: "file", path: "usr/lib/x", content: "x\n" }, { type: "symlink", path: "lib", target: "usr/lib" }, { type: "symlink", path: "lib64", target: "lib" }, { type: "symlink", path: "trail", target: "usr/lib/" }, { type: "symlink", path: "abs-up", target: "/../usr/lib/x" }, {type:"symlink", path:"self", target:"."}, {type:"symlink", path:"usr/lib/rootlink", target:"/"});
  const layer = await makeLayer(entries);
  // latin1 name (invalid utf-8) via raw tar editing: replace marker bytes
  const config = makeImageConfig({ layers: [layer] });
  await pushImage(registry.host, "n/x", "v1", { layers: [layer], config, format: "oci" });
  const regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
  const base = `${regdav.url}${encodePath(`${registry.host}/n/x/_tags/v1/rootfs/`)}`;
  const listed = await listEntries(base + "n/");
  console.log("LISTED", JSON.stringify(listed.map(e => e.name)));
  for (const n of names) {
    const r = await davRequest(base + "n/" + encodeURIComponent(n));
    console.log("GET", JSON.stringify(n), r.status, JSON.stringify(r.body.toString().slice(0, 80)));
  }
  for (const p of ["lib64/x", "trail/x", "abs-up", "self/", "usr/lib/rootlink/", "lib/rootlink/usr/lib/x"]) {
    const r = await davRequest(base + p, p.endsWith("/") ? "PROPFIND" : "GET", { Depth: "1" });
    console.log("P", p, r.status, JSON.stringify(r.body.toString().slice(0, 300)));
  }
  console.log(regdav.output().split("\n").filter(l => /WARN|ERROR|left names/.test(l)).join("\n"));
  await regdav.stop(); await registry.stop();
});
