import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { runRegdav, startCliFixture, type CliFixture, type RunResult } from "./cli-fixture.js";

/**
 * Counts the requests that one tree command sends to the registry, through a
 * recording proxy in front of the fixture's registry. Each run gets a fresh
 * cache folder, so nothing is read from an earlier run.
 */
describe("registry requests of tree commands", () => {
  let fixture: CliFixture;
  let proxy: FaultProxy;
  let cache: TempDir;

  const run = (...args: string[]) =>
    runRegdav([...args, "--cache-dir", cache.path, "--registry", proxy.host]);

  function expectSuccess(result: RunResult) {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  }

  beforeAll(async () => {
    fixture = await startCliFixture({ bigBytes: 1024 });
    proxy = await startFaultProxy(fixture.host);
  });

  afterAll(async () => {
    await proxy?.close();
    await fixture?.stop();
  });

  afterEach(async () => {
    await cache?.remove();
  });

  async function runCounted(...args: string[]): Promise<RunResult> {
    cache = await makeTempDir("cli-requests");
    proxy.resetLog();
    return run(...args);
  }

  it("cat of a reference skips the catalog", async () => {
    const result = await runCounted("cat", `${proxy.host}/team/app:v1:/etc/os-release`);

    expectSuccess(result);
    expect(result.stdout.toString()).toBe("ID=app\nVERSION=1\n");
    expect(proxy.count(/\/_catalog$/)).toBe(0);
  });

  it("ls and find of a reference skip the catalog", async () => {
    const listing = await runCounted("ls", `${proxy.host}/team/app:v1:/etc/ssl`);
    expectSuccess(listing);
    expect(listing.stdout.toString()).toBe("certs\nlinks\n");
    expect(proxy.count(/\/_catalog$/)).toBe(0);

    const found = await runCounted("find", `${proxy.host}/team/app:v1:/etc/ssl`, "-type", "f");
    expectSuccess(found);
    expect(proxy.count(/\/_catalog$/)).toBe(0);
  });

  it("cat of a missing repository names it", async () => {
    const result = await runCounted("cat", `${proxy.host}/team/none/such:v1:/etc/os-release`);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `regdav: ${proxy.host}/team/none/such:v1:/etc/os-release: ` +
        `repository team/none/such not found in registry ${proxy.host}\n`,
    );
    expect(proxy.count(/\/_catalog$/)).toBe(0);
  });

  it("cat of a missing tag names the tag", async () => {
    const result = await runCounted("cat", `${proxy.host}/team/app:nope:/etc/os-release`);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `regdav: ${proxy.host}/team/app:nope:/etc/os-release: ` +
        `not found: /${proxy.host}/team/app/_tags/nope\n`,
    );
  });

  it("ls without latest fetches it once", async () => {
    const result = await runCounted("ls", `${proxy.host}/team/docker:/etc`);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `regdav: ${proxy.host}/team/docker:/etc: not found: /${proxy.host}/team/docker/_tags/latest\n`,
    );
    expect(proxy.count(/^\/v2\/team\/docker\/manifests\/latest$/)).toBe(1);
  });
});
