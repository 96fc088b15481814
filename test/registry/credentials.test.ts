import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogSink } from "../../src/log.js";
import { AuthFileCredentials } from "../../src/registry/auth-file.js";
import { configHostOf, findConfigKey, parseConfigKey } from "../../src/registry/config-keys.js";
import { CredentialHelpers } from "../../src/registry/credential-helper.js";

let directory: string;
let configPath: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "regdav-credentials-"));
  configPath = join(directory, "config.json");
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** A store over a config with only `auths`; no helper is configured, so none runs. */
async function storeWith(auths: unknown): Promise<AuthFileCredentials> {
  await writeFile(configPath, JSON.stringify({ auths }));
  return new AuthFileCredentials(configPath, new CredentialHelpers());
}

const basic = (text: string) => Buffer.from(text).toString("base64");

describe("AuthFileCredentials auths", () => {
  it("splits auth at the first colon", async () => {
    const store = await storeWith({ "127.0.0.1:5000": { auth: basic("alice:pa:ss:word") } });
    expect(await store.get("127.0.0.1:5000")).toEqual({
      username: "alice",
      password: "pa:ss:word",
      source: `auths entry "127.0.0.1:5000" in ${configPath}`,
    });
  });

  it("reads username and password fields", async () => {
    const store = await storeWith({ "ghcr.io": { username: "bob", password: "secret" } });
    expect(await store.get("ghcr.io")).toMatchObject({ username: "bob", password: "secret" });
  });

  it("prefers an identity token", async () => {
    const store = await storeWith({
      "ghcr.io": { auth: basic("bob:x"), identitytoken: "refresh" },
    });
    expect(await store.get("ghcr.io")).toEqual({
      identityToken: "refresh",
      source: `auths entry "ghcr.io" in ${configPath}`,
    });
  });

  it("finds Docker Hub under its v1 key", async () => {
    const store = await storeWith({
      "registry-1.docker.io": { auth: basic("other:one") },
      "https://index.docker.io/v1/": { auth: basic("hub:user") },
    });
    expect(await store.get("docker.io")).toMatchObject({ username: "hub", password: "user" });
  });

  it.each([
    ["https://registry.example.com", "registry.example.com"],
    ["http://registry.example.com:5000/v1/", "registry.example.com:5000"],
    ["registry.example.com/v2/", "registry.example.com"],
    ["REGISTRY.example.com", "registry.example.com"],
    ["index.docker.io", "docker.io"],
  ])("matches key %s to %s", async (key, registry) => {
    const store = await storeWith({ [key]: { auth: basic("u:p") } });
    expect(await store.get(registry, "team/app")).toMatchObject({ username: "u", password: "p" });
  });

  it("prefers the exact key", async () => {
    const store = await storeWith({
      "https://a.example": { auth: basic("scheme:key") },
      "a.example": { auth: basic("exact:key") },
    });
    expect(await store.get("a.example")).toMatchObject({ username: "exact", password: "key" });
  });

  it("picks the longest repository key", async () => {
    const store = await storeWith({
      "quay.io": { auth: basic("whole:registry") },
      "quay.io/team": { auth: basic("team:wide") },
      "quay.io/team/app": { auth: basic("one:repository") },
    });
    expect(await store.get("quay.io", "team/app")).toMatchObject({ username: "one" });
    expect(await store.get("quay.io", "team/app/sub")).toMatchObject({ username: "one" });
    expect(await store.get("quay.io", "team/other")).toMatchObject({ username: "team" });
    expect(await store.get("quay.io", "teammate/app")).toMatchObject({ username: "whole" });
    expect(await store.get("quay.io")).toMatchObject({ username: "whole" });
  });

  it("limits repository keys to their repository", async () => {
    const store = await storeWith({ "quay.io/team/app": { auth: basic("one:repository") } });
    expect(await store.get("quay.io", "team/app")).toMatchObject({ username: "one" });
    expect(await store.get("quay.io", "team/other")).toBeUndefined();
    expect(await store.get("quay.io")).toBeUndefined();
  });

  it("returns undefined for other registries", async () => {
    const store = await storeWith({ "a.example": { auth: basic("u:p") } });
    expect(await store.get("b.example")).toBeUndefined();
    expect(await store.get("a.example:5000")).toBeUndefined();
  });

  it("returns undefined for an empty entry", async () => {
    const store = await storeWith({ "a.example": {} });
    expect(await store.get("a.example")).toBeUndefined();
  });

  it("returns undefined without a config file", async () => {
    const store = new AuthFileCredentials(join(directory, "missing.json"), new CredentialHelpers());
    expect(await store.get("a.example")).toBeUndefined();
  });

  it("returns undefined without auths", async () => {
    await writeFile(configPath, JSON.stringify({ currentContext: "default" }));
    const store = new AuthFileCredentials(configPath, new CredentialHelpers());
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
    await writeFile(configPath, "{ not json");
    const store = new AuthFileCredentials(configPath, new CredentialHelpers());
    await expect(store.get("a.example")).rejects.toThrow(RegdavError);
    await expect(store.get("a.example")).rejects.toThrow(configPath);
  });
});

describe("config keys", () => {
  it.each([
    ["https://index.docker.io/v1/", "docker.io"],
    ["index.docker.io", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["docker.io", "docker.io"],
    ["localhost:5000", "localhost:5000"],
  ])("reduces %s to %s", (key, host) => {
    expect(configHostOf(key)).toBe(host);
  });

  it.each([
    ["https://quay.io/v1/", { host: "quay.io", path: "" }],
    ["quay.io/team/app/", { host: "quay.io", path: "team/app" }],
    ["http://Quay.IO:8443/team", { host: "quay.io:8443", path: "team" }],
    ["quay.io/v1/team", { host: "quay.io", path: "v1/team" }],
  ])("parses %s", (key, parsed) => {
    expect(parseConfigKey(key)).toEqual(parsed);
  });

  it("breaks ties by the written key", () => {
    const keys = ["registry-1.docker.io", "https://index.docker.io/v1/", "docker.io"];
    expect(findConfigKey(keys, "docker.io", "library/debian")).toBe("docker.io");
    expect(findConfigKey(keys.slice(0, 2), "docker.io")).toBe("https://index.docker.io/v1/");
    expect(findConfigKey(["index.docker.io"], "docker.io")).toBe("index.docker.io");
  });
});
