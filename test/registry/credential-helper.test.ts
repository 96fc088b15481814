import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogSink } from "../../src/log.js";
import { AuthFileCredentials } from "../../src/registry/auth-file.js";
import { CredentialHelpers } from "../../src/registry/credential-helper.js";

/**
 * Credential helpers as docker runs them: small shell scripts named
 * docker-credential-NAME in a folder that is the helpers' whole PATH
 * (plus /usr/bin:/bin for the shell's tools).
 */
let directory: string;
let binDirectory: string;
let configPath: string;
const logLines: string[] = [];

beforeAll(() => {
  setLogSink((line) => logLines.push(line));
});

afterAll(() => {
  setLogSink((line) => process.stderr.write(line + "\n"));
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "regdav-helpers-"));
  binDirectory = join(directory, "bin");
  configPath = join(directory, "config.json");
  await mkdir(binDirectory);
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** Writes docker-credential-NAME; the script's stdin is saved in NAME.stdin. */
async function writeHelper(name: string, body: string): Promise<void> {
  const path = join(binDirectory, `docker-credential-${name}`);
  const script = [
    "#!/bin/sh",
    `[ "$1" = get ] || { echo "unexpected command $1" >&2; exit 3; }`,
    `input=$(cat); printf %s "$input" > "${join(directory, name)}.stdin"`,
    body,
    "",
  ].join("\n");
  await writeFile(path, script);
  await chmod(path, 0o755);
}

function helperInput(name: string): Promise<string> {
  return readFile(join(directory, `${name}.stdin`), "utf8");
}

function helpers(timeoutMs?: number): CredentialHelpers {
  const env = { PATH: `${binDirectory}:/usr/bin:/bin` };
  return new CredentialHelpers({ env, ...(timeoutMs !== undefined && { timeoutMs }) });
}

async function storeWith(config: unknown, timeoutMs?: number): Promise<AuthFileCredentials> {
  await writeFile(configPath, JSON.stringify(config));
  return new AuthFileCredentials(configPath, helpers(timeoutMs));
}

async function caught(promise: Promise<unknown>): Promise<RegdavError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegdavError) return error;
    throw error;
  }
  throw new Error("expected a RegdavError");
}

const secretJson = (username: string, secret: string) =>
  `echo '{"ServerURL":"x","Username":"${username}","Secret":"${secret}"}'`;
const basic = (text: string) => Buffer.from(text).toString("base64");

describe("credential helpers", () => {
  it("reads Username and Secret", async () => {
    await writeHelper("store", secretJson("alice", "helper-secret"));
    const store = await storeWith({ credsStore: "store", auths: { "ghcr.io": {} } });
    expect(await store.get("ghcr.io", "team/app")).toEqual({
      username: "alice",
      password: "helper-secret",
      source: `credential helper docker-credential-store (credsStore in ${configPath})`,
    });
    expect(await helperInput("store")).toBe("ghcr.io");
  });

  it("reads <token> as identity token", async () => {
    await writeHelper("store", secretJson("<token>", "refresh-secret"));
    const store = await storeWith({ credsStore: "store" });
    expect(await store.get("ghcr.io")).toMatchObject({ identityToken: "refresh-secret" });
  });

  it("passes Docker Hub's v1 URL", async () => {
    await writeHelper("store", secretJson("hub", "x"));
    const store = await storeWith({ credsStore: "store" });
    await store.get("docker.io", "library/debian");
    expect(await helperInput("store")).toBe("https://index.docker.io/v1/");
  });

  it("passes the auths key as written", async () => {
    await writeHelper("store", secretJson("u", "x"));
    const store = await storeWith({ credsStore: "store", auths: { "https://quay.io": {} } });
    await store.get("quay.io", "team/app");
    expect(await helperInput("store")).toBe("https://quay.io");
  });

  it("prefers credHelpers, then credsStore, then auths", async () => {
    await writeHelper("per-registry", secretJson("from-credhelpers", "a"));
    await writeHelper("store", secretJson("from-credsstore", "b"));
    const store = await storeWith({
      credHelpers: { "ghcr.io": "per-registry" },
      credsStore: "store",
      auths: { "ghcr.io": { auth: basic("from-auths:c") }, "quay.io": { auth: basic("q:d") } },
    });
    expect(await store.get("ghcr.io")).toMatchObject({ username: "from-credhelpers" });
    expect(await store.get("quay.io")).toMatchObject({ username: "from-credsstore" });
  });

  it("falls through when not found", async () => {
    await writeHelper("store", 'echo "credentials not found in native keychain"; exit 1');
    const store = await storeWith({
      credsStore: "store",
      auths: { "ghcr.io": { auth: basic("inline:password") }, "quay.io": {} },
    });
    expect(await store.get("ghcr.io")).toMatchObject({ username: "inline" });
    expect(await store.get("quay.io")).toBeUndefined();
  });

  it("treats an empty Secret as none", async () => {
    await writeHelper("store", secretJson("", ""));
    const store = await storeWith({ credsStore: "store" });
    expect(await store.get("ghcr.io")).toBeUndefined();
  });

  it("names a failing helper and its stderr", async () => {
    await writeHelper(
      "broken",
      [
        'echo \'{"Username":"u","Secret":"stdout-secret"}\'',
        'echo "  keychain is locked\n" >&2',
        "exit 1",
      ].join("\n"),
    );
    const store = await storeWith({ credHelpers: { "ghcr.io": "broken" } });
    const error = await caught(store.get("ghcr.io"));
    expect(error.code).toBe("REGISTRY_UNAUTHORIZED");
    expect(error.message).toContain("docker-credential-broken");
    expect(error.message).toContain(`credHelpers in ${configPath}`);
    expect(error.message).toContain("exited with code 1: keychain is locked;");
    expect(error.message).not.toContain("stdout-secret");
    expect(logLines.join("\n")).toContain("WARN credential helper failed");
    expect(logLines.join("\n")).not.toContain("stdout-secret");
  });

  it("withholds JSON output of a failure", async () => {
    await writeHelper("broken", 'echo \'{"Username":"u","Secret":"stdout-secret"}\'; exit 2');
    const store = await storeWith({ credsStore: "broken" });
    const error = await caught(store.get("ghcr.io"));
    expect(error.message).toContain("exited with code 2: (output withheld)");
    expect(error.message).not.toContain("stdout-secret");
  });

  it("rejects output that is not JSON", async () => {
    await writeHelper("garbled", "echo user=alice password=garbled-secret");
    const store = await storeWith({ credsStore: "garbled" });
    const error = await caught(store.get("ghcr.io"));
    expect(error.message).toContain("printed output that is not JSON");
    expect(error.message).not.toContain("garbled-secret");
  });

  it("names a missing helper", async () => {
    const store = await storeWith({ credsStore: "desktop" });
    const error = await caught(store.get("ghcr.io"));
    expect(error.code).toBe("REGISTRY_UNAUTHORIZED");
    expect(error.message).toContain("docker-credential-desktop was not found on PATH");
    expect(error.message).toContain("ENOENT");
  });

  it("times out a hanging helper", async () => {
    await writeHelper("slow", "sleep 30");
    const store = await storeWith({ credsStore: "slow" }, 300);
    const started = Date.now();
    const error = await caught(store.get("ghcr.io"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain("docker-credential-slow");
    expect(error.message).toContain("timed out after 0.3 s");
  });

  it("rejects a helper name with a path", async () => {
    const store = await storeWith({ credsStore: "../../bin/sh" });
    const error = await caught(store.get("ghcr.io"));
    expect(error.message).toContain('invalid credential helper name "../../bin/sh"');
  });

  it("runs a helper once a minute per server", async () => {
    const runs = join(directory, "runs");
    await writeHelper("counted", `echo run >> "${runs}"; ${secretJson("u", "p")}`);
    const store = await storeWith({ credsStore: "counted" });
    await store.get("ghcr.io", "a");
    await store.get("ghcr.io", "b");
    await store.get("quay.io", "a");
    const lines = (await readFile(runs, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(2);
  });
});
