import { it } from "vitest";
import { startRegistry } from "../../harness/registry.js";
import { makeLayer } from "../../harness/image-builder.js";
import { pushSchema1Image } from "../../harness/push.js";
import { fetchManifest } from "../../harness/registry-http.js";
import { extractSchema1Payload } from "../../harness/schema1.js";
it("s1", async () => {
  const registry = await startRegistry({ schema1: true });
  const layer = await makeLayer([{ type: "file", path: "a", content: "a" }], { format: "docker" });
  const pushed = await pushSchema1Image(registry.host, "x/y", "t", [layer]);
  const a = await fetchManifest(registry.host, "x/y", "t");
  const b = await fetchManifest(registry.host, "x/y", "t");
  console.log("same twice:", a.bytes.equals(b.bytes), "same as pushed:", a.bytes.equals(pushed.signed), a.digest, pushed.digest);
  console.log("payloads equal:", extractSchema1Payload(a.bytes).equals(extractSchema1Payload(b.bytes)), extractSchema1Payload(a.bytes).equals(pushed.payload));
  console.log(a.contentType);
  await registry.stop();
});
