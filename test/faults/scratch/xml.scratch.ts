import { it } from "vitest";
import { startRegdav } from "../../harness/regdav-process.js";
import { httpRequest, portOf, rawRequest } from "../fault-fixtures.js";

it("xml probes", async () => {
  const regdav = await startRegdav(["--registry", "127.0.0.1:1"], { env: { REGDAV_LOG_LEVEL: "debug" } });
  const port = portOf(regdav.url);
  const bodies: Record<string, string> = {
    unclosed: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>',
    notxml: "hello world",
    wrongroot: '<?xml version="1.0"?><foo/>',
    laughs: '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&lol4;</D:x></D:prop></D:propfind>',
    external: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&e;</D:displayname></D:prop></D:propfind>',
    deep: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + "<a>".repeat(10000) + "</a>".repeat(10000) + "</D:prop></D:propfind>",
    manyprops: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + "<D:getetag/>".repeat(5000) + "</D:prop></D:propfind>",
    propname: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>',
    badns: '<?xml version="1.0"?><x:propfind xmlns:x="urn:evil"><x:prop/></x:propfind>',
  };
  for (const [name, body] of Object.entries(bodies)) {
    const t = Date.now();
    const r = await rawRequest(port, httpRequest("PROPFIND", "/", ["Depth: 0", "Content-Type: application/xml"], body));
    console.log(name, Buffer.byteLength(body), r.status, Date.now() - t, "ms", r.body.slice(0, 400).replace(/\s+/g, " "));
  }
  const r = await rawRequest(port, httpRequest("GET", "/"));
  console.log("alive", r.status);
  console.log(regdav.output().split("\n").filter((l) => !/DEBUG request /.test(l)).join("\n").slice(-3000));
  await regdav.stop();
});
