import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogSink } from "../../src/log.js";
import { configHostOf, DockerConfigCredentials } from "../../src/registry/credentials.js";

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "regdav-credentials-"));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function storeWith(auths: unknown): Promise<DockerConfigCredentials> {
  await writeFile(join(directory, "config.json"), JSON.stringify({ auths }));
  return new DockerConfigCredentials({ env: { DOCKER_CONFIG: directory } });
}

const basic = (text: string) => Buffer.from(text).toString("base64");

describe("DockerConfigCredentials", () => {
  it("reads $DOCKER_CONFIG/config.json", async () => {
    const store = await storeWith({});
    expect(store.path).toBe(join(directory, "config.json"));
  });

  it("defaults to ~/.docker/config.json", () => {
    const store = new DockerConfigCredentials({ env: {} });
    expect(store.path.endsWith(join(".docker", "config.json"))).toBe(true);
  });

  it("splits auth at the first colon", async () => {
    const store = await storeWith({ "127.0.0.1:5000": { auth: basic("alice:pa:ss:word") } });
    expect(await store.get("127.0.0.1:5000")).toEqual({
      username: "alice",
      password: "pa:ss:word",
    });
  });

  it("reads username and password fields", async () => {
    const store = await storeWith({ "ghcr.io": { username: "bob", password: "secret" } });
    expect(await store.get("ghcr.io")).toEqual({ username: "bob", password: "secret" });
  });

  it("reads an identity token", async () => {
    const store = await storeWith({
      "ghcr.io": { auth: basic("bob:x"), identitytoken: "refresh" },
    });
    expect(await store.get("ghcr.io")).toEqual({ identityToken: "refresh" });
  });

  it("finds Docker Hub under its v1 key", async () => {
    const store = await storeWith({
      "registry-1.docker.io": { auth: basic("other:one") },
      "https://index.docker.io/v1/": { auth: basic("hub:user") },
    });
    expect(await store.get("docker.io")).toEqual({ username: "hub", password: "user" });
  });

  it.each([
    ["https://registry.example.com", "registry.example.com"],
    ["http://registry.example.com:5000/v1/", "registry.example.com:5000"],
    ["registry.example.com/v2/", "registry.example.com"],
    ["REGISTRY.example.com", "registry.example.com"],
  ])("matches key %s to %s", async (key, registry) => {
    const store = await storeWith({ [key]: { auth: basic("u:p") } });
    expect(await store.get(registry)).toEqual({ username: "u", password: "p" });
  });

  it("prefers the exact key", async () => {
    const store = await storeWith({
      "https://a.example": { auth: basic("scheme:key") },
      "a.example": { auth: basic("exact:key") },
    });
    expect(await store.get("a.example")).toEqual({ username: "exact", password: "key" });
  });

  it("returns undefined for other registries", async () => {
    const store = await storeWith({ "a.example": { auth: basic("u:p") } });
    expect(await store.get("b.example")).toBeUndefined();
    expect(await store.get("a.example:5000")).toBeUndefined();
  });

  it("returns undefined without a config file", async () => {
    const store = new DockerConfigCredentials({ path: join(directory, "missing.json") });
    expect(await store.get("a.example")).toBeUndefined();
  });

  it("returns undefined without auths", async () => {
    await writeFile(join(directory, "config.json"), JSON.stringify({ credsStore: "desktop" }));
    const store = new DockerConfigCredentials({ env: { DOCKER_CONFIG: directory } });
    expect(await store.get("a.example")).toBeUndefined();
  });

  it("skips malformed auth without leaking it", async () => {
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    try {
      const store = await storeWith({ "a.example": { auth: basic("nocolonsecret") } });
      expect(await store.get("a.example")).toBeUndefined();
    } finally {
      setLogSink((line) => process.stderr.write(line + "\n"));
    }
    expect(lines.join("\n")).toContain("a.example");
    expect(lines.join("\n")).not.toContain("nocolonsecret");
    expect(lines.join("\n")).not.toContain(basic("nocolonsecret"));
  });

  it("rejects invalid JSON naming the file", async () => {
    await writeFile(join(directory, "config.json"), "{ not json");
    const store = new DockerConfigCredentials({ env: { DOCKER_CONFIG: directory } });
    await expect(store.get("a.example")).rejects.toThrow(RegdavError);
    await expect(store.get("a.example")).rejects.toThrow(join(directory, "config.json"));
  });
});

describe("configHostOf", () => {
  it.each([
    ["https://index.docker.io/v1/", "docker.io"],
    ["index.docker.io", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["docker.io", "docker.io"],
    ["localhost:5000", "localhost:5000"],
  ])("reduces %s to %s", (key, host) => {
    expect(configHostOf(key)).toBe(host);
  });
});
