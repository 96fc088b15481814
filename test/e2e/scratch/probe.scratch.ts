import { it } from "vitest";
import { startRegistry } from "../../harness/registry.js";
import { startRegdav } from "../../harness/regdav-process.js";
import { makeImageConfig, makeLayer, makeIndex } from "../../harness/image-builder.js";
import { pushImage, pushIndex, makeImageManifest, pushManifest } from "../../harness/push.js";
import { unpackWithUmoci, walkTree } from "../../harness/oracle.js";
import { listEntries, encodePath, davRequest } from "../dav-client.js";
import { readFile } from "node:fs/promises";
it("probe", async () => {
  const registry = await startRegistry();
  const l1 = await makeLayer([{ type: "file", path: "x", content: "v1\n" }, {type:"directory", path:"lib"}, {type:"file", path:"lib/old", content:"old\n"}]);
  const l2 = await makeLayer([{ type: "hardlink", path: "y", target: "x" }, { type: "file", path: "x", content: "v2 new\n" }]);
  await pushImage(registry.host, "p/hard", "v1", { layers: [l1, l2], config: makeImageConfig({ layers: [l1, l2] }), format: "oci" });
  const empty = makeImageConfig({ layers: [] , history: []});
  await pushImage(registry.host, "p/empty", "v1", { layers: [], config: empty, format: "oci" });
  const a = await makeLayer([{ type: "file", path: "arch", content: "arm64\n" }]);
  await pushIndex(registry.host, "p/armonly", "v1", { format: "oci", images: [{ platform: { os: "linux", architecture: "arm64" }, layers: [a], config: makeImageConfig({ layers: [a], platform: { os: "linux", architecture: "arm64" } }) }] });
  const regdav = await startRegdav(["--registry", registry.host, "--log-level", "debug"]);
  const u = (p: string) => `${regdav.url}${encodePath(`${registry.host}/${p}`)}`;
  for (const [m, p] of [["GET", "p/hard/_tags/v1/rootfs/y"], ["GET", "p/hard/_tags/v1/rootfs/x"], ["PROPFIND", "p/empty/_tags/v1/"], ["PROPFIND", "p/empty/_tags/v1/rootfs/"], ["PROPFIND", "p/empty/_tags/v1/layers/"], ["PROPFIND", "p/armonly/_tags/v1/"], ["GET", "p/armonly/_tags/v1/rootfs/arch"], ["GET", "p/hard/_tags/v1/rootfs/"], ["HEAD", "p/hard/_tags/v1/rootfs/x"]] as const) {
    const r = await davRequest(u(p), m, { Depth: "1" });
    const body = r.body.toString();
    const names = m === "PROPFIND" ? [...body.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map(x => x[1]) : body.slice(0, 200);
    console.log("R", m, p, r.status, JSON.stringify(names), r.headers.get("content-length"));
  }
  const un = await unpackWithUmoci(registry.host, "p/hard", "v1");
  console.log("UMOCI y:", JSON.stringify(await readFile(un.rootfs + "/y", "utf8")), "x:", JSON.stringify(await readFile(un.rootfs + "/x", "utf8")));
  await un.remove();
  await regdav.stop(); await registry.stop();
});
