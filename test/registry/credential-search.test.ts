import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  authFileSearchPath,
  openCredentialStore,
} from "../../src/registry/credential-search.js";

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "regdav-search-"));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const basic = (text: string) => Buffer.from(text).toString("base64");

async function writeAuths(path: string, auths: Record<string, string>): Promise<void> {
  const entries = Object.fromEntries(
    Object.entries(auths).map(([key, login]) => [key, { auth: basic(login) }]),
  );
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ auths: entries }));
}

/** Returns an environment whose every default location is inside the temp folder. */
function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { HOME: join(directory, "home"), PATH: "/usr/bin:/bin", ...extra };
}

describe("authFileSearchPath", () => {
  it("lists every file in order", () => {
    const env = {
      HOME: "/home/me",
      REGISTRY_AUTH_FILE: "/etc/auth.json",
      XDG_RUNTIME_DIR: "/run/user/1000",
      XDG_CONFIG_HOME: "/home/me/.cfg",
      DOCKER_CONFIG: "/home/me/.dk",
    };
    expect(authFileSearchPath(env, "/tmp/given.json")).toEqual([
      "/tmp/given.json",
      "/etc/auth.json",
      "/run/user/1000/containers/auth.json",
      "/home/me/.cfg/containers/auth.json",
      "/home/me/.dk/config.json",
    ]);
  });

  it("defaults under HOME", () => {
    expect(authFileSearchPath({ HOME: "/home/me" })).toEqual([
      "/home/me/.config/containers/auth.json",
      "/home/me/.docker/config.json",
    ]);
  });

  it("drops duplicates", () => {
    const env = { HOME: "/h", REGISTRY_AUTH_FILE: "/h/.docker/config.json" };
    expect(authFileSearchPath(env)).toEqual([
      "/h/.docker/config.json",
      "/h/.config/containers/auth.json",
    ]);
  });
});

describe("openCredentialStore", () => {
  it("reads podman's file before docker's", async () => {
    const runtime = join(directory, "run");
    await writeAuths(join(runtime, "containers", "auth.json"), { "ghcr.io": "podman:one" });
    await writeAuths(join(directory, "home", ".docker", "config.json"), {
      "ghcr.io": "docker:two",
      "quay.io": "docker:three",
    });
    const store = await openCredentialStore({
      env: isolatedEnv({ XDG_RUNTIME_DIR: runtime }),
      registries: ["ghcr.io"],
    });
    expect(await store.get("ghcr.io")).toMatchObject({ username: "podman" });
    expect(await store.get("quay.io")).toMatchObject({ username: "docker" });
    expect(await store.get("gcr.io")).toBeUndefined();
  });

  it("reads --auth-file first", async () => {
    const given = join(directory, "given.json");
    await writeAuths(given, { "ghcr.io": "given:one" });
    await writeAuths(join(directory, "env-auth.json"), { "ghcr.io": "env:two" });
    const store = await openCredentialStore({
      env: isolatedEnv({ REGISTRY_AUTH_FILE: join(directory, "env-auth.json") }),
      authFile: given,
      registries: ["ghcr.io"],
    });
    expect(await store.get("ghcr.io")).toMatchObject({ username: "given" });
  });

  it("rejects a missing --auth-file", async () => {
    const missing = join(directory, "missing.json");
    await expect(
      openCredentialStore({ env: isolatedEnv(), authFile: missing, registries: [] }),
    ).rejects.toThrow(`cannot read --auth-file ${missing}: ENOENT`);
  });

  it("uses REGDAV_USERNAME for the one registry", async () => {
    await writeAuths(join(directory, "home", ".docker", "config.json"), {
      "ghcr.io": "docker:file",
      "quay.io": "docker:file",
    });
    const env = isolatedEnv({ REGDAV_USERNAME: "ci", REGDAV_PASSWORD: "env-secret" });
    const store = await openCredentialStore({ env, registries: ["ghcr.io"] });
    expect(await store.get("ghcr.io", "team/app")).toEqual({
      username: "ci",
      password: "env-secret",
      source: "REGDAV_USERNAME and REGDAV_PASSWORD",
    });
    expect(await store.get("quay.io")).toMatchObject({ username: "docker" });
  });

  it("rejects REGDAV_USERNAME with two registries", async () => {
    const env = isolatedEnv({ REGDAV_USERNAME: "ci", REGDAV_PASSWORD: "env-secret" });
    const opening = openCredentialStore({ env, registries: ["ghcr.io", "quay.io"] });
    await expect(opening).rejects.toThrow(
      "REGDAV_USERNAME and REGDAV_PASSWORD apply to one --registry, but 2 were given " +
        "(ghcr.io, quay.io)",
    );
  });

  it("rejects REGDAV_USERNAME alone", async () => {
    const env = isolatedEnv({ REGDAV_USERNAME: "ci" });
    await expect(openCredentialStore({ env, registries: ["ghcr.io"] })).rejects.toThrow(
      "REGDAV_PASSWORD is not set",
    );
  });

  it("hides REGDAV_PASSWORD from helpers", async () => {
    const bin = join(directory, "bin");
    await mkdir(bin);
    const helper = join(bin, "docker-credential-env");
    const seen = join(directory, "seen");
    await writeFile(
      helper,
      `#!/bin/sh\necho "[$REGDAV_USERNAME][$REGDAV_PASSWORD][$HOME]" > "${seen}"\n` +
        `echo '{"Username":"u","Secret":"s"}'\n`,
    );
    await chmod(helper, 0o755);
    await mkdir(join(directory, "home", ".docker"), { recursive: true });
    await writeFile(
      join(directory, "home", ".docker", "config.json"),
      JSON.stringify({ credsStore: "env" }),
    );

    const env = isolatedEnv({
      PATH: `${bin}:/usr/bin:/bin`,
      REGDAV_USERNAME: "ci",
      REGDAV_PASSWORD: "env-secret",
    });
    const store = await openCredentialStore({ env, registries: ["ghcr.io"] });
    expect(await store.get("quay.io")).toMatchObject({ username: "u" });
    expect(await readFile(seen, "utf8")).toBe(`[][][${join(directory, "home")}]\n`);
  });
});
