import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { startTokenRegistry, type TokenRegistry } from "../harness/auth-registry.js";
import { makeImageConfig, makeLayer } from "../harness/image-builder.js";
import { pushImage, type ImageContent } from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";
import { davRequest, listNames } from "./dav-client.js";

/**
 * Private repositories read through bin/regdav with the user's own logins:
 * docker's config.json (password, identity token, credential helpers),
 * podman's auth.json, --auth-file and REGDAV_USERNAME/REGDAV_PASSWORD,
 * against docker-registry 2.8 in token mode with a loopback token server,
 * and in htpasswd mode. Every regdav gets a HOME, DOCKER_CONFIG,
 * XDG_RUNTIME_DIR and REGISTRY_AUTH_FILE of its own, so this machine's
 * logins play no part. No output may contain a password or token.
 */
const alicePassword = "alice-Pa55:word";
const carolPassword = "carol-htpasswd-secret";
const fileText = "hello from a private image\n";
const basic = (login: string) => Buffer.from(login).toString("base64");

let tokenRegistry: TokenRegistry;
let basicRegistry: TestRegistry;
let aliceIdentityToken: string;
let image: ImageContent;
/** Everything regdav wrote and served in this file, checked for secrets at the end. */
const outputs: string[] = [];
const running: { regdav: RegdavProcess; home: TempDir }[] = [];

beforeAll(async () => {
  const layer = await makeLayer([
    { type: "directory", path: "etc" },
    { type: "file", path: "etc/message", content: fileText },
  ]);
  image = { layers: [layer], config: makeImageConfig({ layers: [layer] }), format: "oci" };

  tokenRegistry = await startTokenRegistry({
    users: [{ username: "alice", password: alicePassword, pull: ["private/app"], catalog: true }],
  });
  for (const repository of ["private/app", "private/denied"]) {
    await tokenRegistry.push(repository, "v1", image);
  }
  aliceIdentityToken = tokenRegistry.issuer.createIdentityToken("alice");

  basicRegistry = await startRegistry({
    htpasswd: { username: "carol", password: carolPassword },
  });
  await pushImage(basicRegistry.host, "team/app", "v1", image, {
    credentials: { username: "carol", password: carolPassword },
  });
});

afterEach(async () => {
  for (const { regdav, home } of running.splice(0)) {
    outputs.push(regdav.output());
    await regdav.stop();
    await home.remove();
  }
  tokenRegistry.issuer.rejectPost = false;
  tokenRegistry.issuer.requests.length = 0;
});

afterAll(async () => {
  await tokenRegistry?.stop();
  await basicRegistry?.stop();
});

interface Login {
  /** Written to $DOCKER_CONFIG/config.json. */
  dockerConfig?: unknown;
  /** Written to $XDG_RUNTIME_DIR/containers/auth.json, where podman login writes. */
  podmanAuth?: unknown;
  /** Credential helper scripts by name, put on regdav's PATH as docker-credential-NAME. */
  helpers?: Record<string, string>;
  env?: Record<string, string>;
  args?: string[];
}

/** Starts regdav for one registry with a login of its own and nothing of this machine's. */
async function startWithLogin(registryHost: string, login: Login): Promise<RegdavProcess> {
  const home = await makeTempDir("private-home");
  const dockerConfig = join(home.path, "docker");
  const runtime = join(home.path, "run");
  const bin = join(home.path, "bin");
  await mkdir(join(runtime, "containers"), { recursive: true });
  await mkdir(dockerConfig);
  await mkdir(bin);
  if (login.dockerConfig !== undefined) {
    await writeFile(join(dockerConfig, "config.json"), JSON.stringify(login.dockerConfig));
  }
  if (login.podmanAuth !== undefined) {
    await writeFile(join(runtime, "containers", "auth.json"), JSON.stringify(login.podmanAuth));
  }
  for (const [name, script] of Object.entries(login.helpers ?? {})) {
    const path = join(bin, `docker-credential-${name}`);
    await writeFile(path, `#!/bin/sh\n${script}\n`);
    await chmod(path, 0o755);
  }

  const env = {
    HOME: home.path,
    DOCKER_CONFIG: dockerConfig,
    XDG_RUNTIME_DIR: runtime,
    XDG_CONFIG_HOME: join(home.path, "config"),
    REGISTRY_AUTH_FILE: "",
    REGDAV_USERNAME: "",
    REGDAV_PASSWORD: "",
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ...login.env,
  };
  const args = ["--registry", registryHost, "--log-level", "debug", ...(login.args ?? [])];
  const regdav = await startRegdav(args, { env });
  running.push({ regdav, home });
  return regdav;
}

/** Reads the private file; the body is kept for the secret check. */
async function readMessage(regdav: RegdavProcess, host: string, repository = "private/app") {
  const url = `${regdav.url}${host}/${repository}/_tags/v1/rootfs/etc/message`;
  const response = await davRequest(url);
  outputs.push(response.body.toString());
  return response;
}

function tokenRequests() {
  return tokenRegistry.issuer.requests.filter((request) => request.status === 200);
}

describe("private registry with token auth", () => {
  it("reads with password in auths", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { auths: { [host]: { auth: basic(`alice:${alicePassword}`) } } },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);

    const pull = tokenRequests().find((request) => request.url.includes("private%2Fapp"));
    expect(pull).toBeDefined();
    const query = new URL(pull!.url, "http://x").searchParams;
    expect(pull!.method).toBe("GET");
    expect(query.get("account")).toBe("alice");
    expect(query.get("service")).toBe("regdav-test-registry");
    expect(query.getAll("scope")).toEqual(["repository:private/app:pull"]);
    expect(pull!.authorization).toBe(`Basic ${basic(`alice:${alicePassword}`)}`);
  });

  it("lists the catalog with a login", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: {
        auths: { [`https://${host}/v1/`]: { auth: basic(`alice:${alicePassword}`) } },
      },
    });
    expect(await listNames(`${regdav.url}${host}/private/`)).toEqual(["app", "denied"]);
    const scopes = tokenRequests().map((request) =>
      new URL(request.url, "http://x").searchParams.getAll("scope"),
    );
    expect(scopes).toContainEqual(["registry:catalog:*"]);
  });

  it("exchanges an identity token by POST", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: {
        auths: { [host]: { auth: basic("alice:x"), identitytoken: aliceIdentityToken } },
      },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);

    const post = tokenRequests().find((request) => request.body.includes("private%2Fapp"));
    expect(post).toBeDefined();
    expect(post!.method).toBe("POST");
    const form = new URLSearchParams(post!.body);
    expect(form.get("grant_type")).toBe("refresh_token");
    expect(form.get("refresh_token")).toBe(aliceIdentityToken);
    expect(form.get("scope")).toBe("repository:private/app:pull");
    expect(tokenRequests().filter((request) => request.method === "GET")).toHaveLength(0);
  });

  it("falls back to GET when POST is 404", async () => {
    tokenRegistry.issuer.rejectPost = true;
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { auths: { [host]: { identitytoken: aliceIdentityToken } } },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);

    const requests = tokenRegistry.issuer.requests;
    expect(requests[0]!.method).toBe("POST");
    expect(requests[0]!.status).toBe(404);
    expect(requests[1]!.method).toBe("GET");
    expect(requests[1]!.authorization).toBe(`Basic ${basic(`:${aliceIdentityToken}`)}`);
    expect(regdav.output()).toContain("token server does not accept the OAuth2 POST, using GET");
  });

  it("reads through a credsStore helper", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { credsStore: "teststore", auths: { [host]: {} } },
      helpers: {
        teststore: [
          'read -r server || true',
          `[ "$server" = "${host}" ] || { echo "credentials not found"; exit 1; }`,
          `echo '{"ServerURL":"${host}","Username":"alice","Secret":"${alicePassword}"}'`,
        ].join("\n"),
      },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);
  });

  it("reads <token> from credHelpers", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { credHelpers: { [host]: "perhost" } },
      helpers: { perhost: `echo '{"Username":"<token>","Secret":"${aliceIdentityToken}"}'` },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(tokenRequests().some((request) => request.method === "POST")).toBe(true);
  });

  it("reports a failing helper by name", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { credHelpers: { [host]: "locked" } },
      helpers: { locked: "echo 'the keyring is locked' >&2; exit 1" },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(401);
    const body = response.body.toString();
    expect(body).toContain("credential helper docker-credential-locked");
    expect(body).toContain("the keyring is locked");
    expect(tokenRegistry.issuer.requests).toHaveLength(0);
  });

  it("reads podman's auth.json", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      podmanAuth: { auths: { [`${host}/private`]: { auth: basic(`alice:${alicePassword}`) } } },
      dockerConfig: { auths: { [host]: { auth: basic("alice:stale-docker-password") } } },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);
  });

  it("reads REGISTRY_AUTH_FILE", async () => {
    const host = tokenRegistry.registry.host;
    const dir = await makeTempDir("auth-file");
    try {
      const path = join(dir.path, "auth.json");
      const auths = { [host]: { auth: basic(`alice:${alicePassword}`) } };
      await writeFile(path, JSON.stringify({ auths }));
      const regdav = await startWithLogin(host, { env: { REGISTRY_AUTH_FILE: path } });
      expect((await readMessage(regdav, host)).status).toBe(200);
    } finally {
      await dir.remove();
    }
  });

  it("reads --auth-file", async () => {
    const host = tokenRegistry.registry.host;
    const dir = await makeTempDir("auth-file");
    try {
      const path = join(dir.path, "ci-auth.json");
      const auths = { [host]: { username: "alice", password: alicePassword } };
      await writeFile(path, JSON.stringify({ auths }));
      const regdav = await startWithLogin(host, { args: ["--auth-file", path] });
      const response = await readMessage(regdav, host);
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe(fileText);
    } finally {
      await dir.remove();
    }
  });

  it("reads REGDAV_USERNAME and REGDAV_PASSWORD", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      env: { REGDAV_USERNAME: "alice", REGDAV_PASSWORD: alicePassword },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);
  });

  it("refuses REGDAV_USERNAME for two registries", async () => {
    const env = { REGDAV_USERNAME: "alice", REGDAV_PASSWORD: alicePassword, HOME: "/nonexistent" };
    const args = ["--registry", tokenRegistry.registry.host, "--registry", basicRegistry.host];
    let failure = "";
    try {
      const regdav = await startRegdav(args, { env });
      await regdav.stop();
    } catch (error) {
      failure = String(error);
    }
    expect(failure).toContain("REGDAV_USERNAME and REGDAV_PASSWORD apply to one --registry");
    expect(failure).toContain("for several registries, use docker login or --auth-file");
    expect(failure).not.toContain(alicePassword);
    outputs.push(failure);
  });

  it("answers 401 for a wrong password", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { auths: { [host]: { auth: basic("alice:wrong-password-123") } } },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBeNull();
    const body = response.body.toString();
    expect(body).toContain(`token server ${tokenRegistry.issuer.realm} for registry ${host}`);
    expect(body).toContain("returned 401 Unauthorized: incorrect username or password");
    expect(body).toContain(`run "docker login ${host}" again`);
    expect(body).toContain(`auths entry "${host}" in `);
    expect(body).not.toContain("wrong-password-123");
    expect(regdav.output()).not.toContain("wrong-password-123");
  });

  it("answers 401 without a login", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {});
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(401);
    const body = response.body.toString();
    expect(body).toContain(`registry ${host}: GET /v2/private/app/manifests/v1 returned 401`);
    expect(body).toContain(`no credentials for ${host} were found: run "docker login ${host}"`);
    expect(body).toContain("or set REGDAV_USERNAME and REGDAV_PASSWORD");
  });

  it("reports insufficient scope", async () => {
    const host = tokenRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      env: { REGDAV_USERNAME: "alice", REGDAV_PASSWORD: alicePassword },
    });
    const response = await readMessage(regdav, host, "private/denied");
    expect(response.status).toBe(401);
    const body = response.body.toString();
    expect(body).toContain("UNAUTHORIZED authentication required");
    expect(body).toContain(
      "the registry answered insufficient_scope for repository:private/denied:pull",
    );
    expect(body).toContain("REGDAV_USERNAME and REGDAV_PASSWORD");
    const denied = tokenRequests().filter((request) => request.url.includes("private%2Fdenied"));
    expect(denied).toHaveLength(2);
  });
});

describe("token registry harness", () => {
  it("rejects a token with a broken signature", async () => {
    const { registry, issuer } = tokenRegistry;
    const token = issuer.mint("alice", [
      { type: "repository", name: "private/app", actions: ["pull"] },
    ]);
    const forged = `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
    const url = `http://${registry.host}/v2/private/app/tags/list`;
    const valid = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const invalid = await fetch(url, { headers: { authorization: `Bearer ${forged}` } });
    expect(valid.status).toBe(200);
    expect(await valid.json()).toEqual({ name: "private/app", tags: ["v1"] });
    expect(invalid.status).toBe(401);
    expect(invalid.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});

describe("token signed by a key ID", () => {
  let kidRegistry: TokenRegistry;

  beforeAll(async () => {
    kidRegistry = await startTokenRegistry({
      users: [{ username: "alice", password: alicePassword, pull: ["*"] }],
      keyReference: "kid",
    });
    await kidRegistry.push("private/app", "v1", image);
  });

  afterAll(async () => {
    await kidRegistry?.stop();
  });

  it("is accepted by the registry", async () => {
    const host = kidRegistry.registry.host;
    const regdav = await startWithLogin(host, {
      env: { REGDAV_USERNAME: "alice", REGDAV_PASSWORD: alicePassword },
    });
    const response = await readMessage(regdav, host);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);
  });
});

describe("private registry with htpasswd", () => {
  it("reads with Basic credentials", async () => {
    const host = basicRegistry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { auths: { [host]: { auth: basic(`carol:${carolPassword}`) } } },
    });
    const response = await readMessage(regdav, host, "team/app");
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe(fileText);
    expect(await listNames(`${regdav.url}${host}/`)).toEqual(["team"]);
  });

  it("answers 401 for a wrong password", async () => {
    const host = basicRegistry.host;
    const regdav = await startWithLogin(host, {
      dockerConfig: { auths: { [host]: { auth: basic("carol:not-carols-password") } } },
    });
    const response = await readMessage(regdav, host, "team/app");
    expect(response.status).toBe(401);
    const body = response.body.toString();
    expect(body).toContain(`registry ${host}: GET /v2/team/app/manifests/v1 returned 401`);
    expect(body).toContain(`were rejected: run "docker login ${host}" again`);
    expect(body).not.toContain("not-carols-password");
  });
});

describe("secrets in outputs", () => {
  it("appear in no log or body", () => {
    const everything = outputs.join("\n");
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [
      alicePassword,
      carolPassword,
      aliceIdentityToken,
      basic(`alice:${alicePassword}`),
      basic(`carol:${carolPassword}`),
      "wrong-password-123",
      "not-carols-password",
    ]) {
      expect(everything).not.toContain(secret);
    }
    // Every JWT starts with the base64url of `{"`.
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
