import { access } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { makeImageConfig, makeLayer, type ImageBlob } from "../harness/image-builder.js";
import { pushImage, type ImageContent } from "../harness/push.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { davRequest } from "./dav-client.js";

/**
 * `--mirror` with a real pull-through cache: docker-registry 2.8 in proxy
 * mode in front of another docker-registry, both on loopback. regdav reads
 * through the cache, and reads from the registry itself once the cache is
 * gone.
 */
let origin: TestRegistry;
let mirror: TestRegistry | undefined;
let regdav: RegdavProcess;
let firstLayer: ImageBlob;

async function makeImage(text: string): Promise<ImageContent> {
  const layer = await makeLayer([{ type: "file", path: "message", content: text }]);
  return { layers: [layer], config: makeImageConfig({ layers: [layer] }), format: "oci" };
}

beforeAll(async () => {
  origin = await startRegistry();
  const first = await makeImage("read through the mirror\n");
  firstLayer = first.layers[0]!;
  await pushImage(origin.host, "team/app", "v1", first);
  mirror = await startRegistry({ proxyRemoteUrl: origin.url });

  regdav = await startRegdav([
    "--registry",
    origin.host,
    "--mirror",
    `${origin.host}=${mirror.url}`,
    "--log-level",
    "debug",
  ]);
});

afterAll(async () => {
  await regdav?.stop();
  await mirror?.stop();
  await origin?.stop();
});

function messageUrl(tag: string): string {
  return `${regdav.url}${origin.host}/team/app/_tags/${tag}/rootfs/message`;
}

describe("registry mirror", () => {
  it("reads through the pull-through cache", async () => {
    const response = await davRequest(messageUrl("v1"));
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe("read through the mirror\n");

    const log = regdav.output();
    expect(log).toContain(`read through mirror registry=${origin.host} mirror=${mirror!.host}`);
    expect(log).toContain("operation=manifest repository=team/app reference=v1");
    expect(log).toContain(`operation=blob repository=team/app reference=${firstLayer.digest}`);
    expect(log).not.toContain("read from the registry");

    const hex = firstLayer.digest.slice("sha256:".length);
    const cached = join(mirror!.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex);
    await expect(access(join(cached, "data"))).resolves.toBeUndefined();
  });

  it("falls back to the registry", async () => {
    const mirrorHost = mirror!.host;
    await mirror!.stop();
    mirror = undefined;
    await pushImage(origin.host, "team/app", "v2", await makeImage("read from the origin\n"));

    const response = await davRequest(messageUrl("v2"));
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe("read from the origin\n");

    const log = regdav.output();
    expect(log).toContain(`WARN read failed, asking the next source registry=${origin.host}`);
    expect(log).toContain(`failed="mirror ${mirrorHost}" operation=manifest`);
    expect(log).toContain(`read from the registry registry=${origin.host} operation=manifest`);
  });
});
