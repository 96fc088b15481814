import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogLevel, setLogSink } from "../../src/log.js";
import { computeDigest } from "../../src/reference/digest.js";
import type { CredentialStore, Credentials } from "../../src/registry/credentials.js";
import { HttpClient, userAgent } from "../../src/registry/http.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import { TokenClient } from "../../src/registry/token.js";
import {
  requestsTo,
  sendJson,
  startFakeServer,
  type FakeServer,
  type RecordedRequest,
} from "./fake-server.js";

/**
 * A fake registry with a token server on the same origin, as a registry
 * behind Docker Hub-style auth behaves: `/v2/` challenges, `/token` issues
 * tokens, and manifests need a valid one.
 */
const manifestBytes = Buffer.from(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}',
);
const manifestDigest = computeDigest(manifestBytes);
const password = "wonderland-secret";

const state = {
  tokensIssued: 0,
  validTokens: new Set<string>(),
  /** The scopes each issued token was requested for. */
  tokenScopes: new Map<string, string[]>(),
  requireCredentials: false,
  rejectEveryToken: false,
  tokenBody: undefined as string | undefined,
  /** Token requests still to fail with 503 before tokens are issued. */
  tokenFailures: 0,
  /** Adds a new refresh_token to every POST response. */
  rotateRefreshTokens: false,
};

let registry: FakeServer;
/** Another host, where the token realm redirects in some tests. */
let elsewhere: FakeServer;
const logLines: string[] = [];

function challenge(scope?: string, error?: string): string {
  let header = `Bearer realm="${registry.origin}/token",service="fake.test"`;
  if (scope) header += `,scope="${scope}"`;
  if (error) header += `,error="${error}"`;
  return header;
}

function issueToken(request: RecordedRequest, response: ServerResponse) {
  const expected = `Basic ${Buffer.from(`alice:${password}`).toString("base64")}`;
  if (state.requireCredentials && request.headers.authorization !== expected) {
    sendJson(response, 401, { details: "incorrect username or password" });
    return;
  }
  if (state.tokenBody !== undefined) {
    response.end(state.tokenBody);
    return;
  }
  if (state.tokenFailures > 0) {
    state.tokenFailures--;
    sendJson(response, 503, { details: "token service busy" });
    return;
  }

  const token = `token-${++state.tokensIssued}`;
  state.validTokens.add(token);
  // Scopes of the `never` type are never granted, as a token server leaves out what it denies.
  const granted = requestedScopes(request).filter((scope) => !scope.startsWith("never:"));
  state.tokenScopes.set(token, granted);
  const field = request.method === "POST" ? "access_token" : "token";
  const body: Record<string, unknown> = {
    [field]: token,
    expires_in: 300,
    issued_at: new Date().toISOString(),
  };
  if (request.method === "POST" && state.rotateRefreshTokens) {
    body.refresh_token = `rotated-${state.tokensIssued}`;
  }
  sendJson(response, 200, body);
}

function requestedScopes(request: RecordedRequest): string[] {
  if (request.method === "POST") {
    return (new URLSearchParams(request.body).get("scope") ?? "").split(" ");
  }
  return new URL(request.url, registry.origin).searchParams.getAll("scope");
}

/** Serves a manifest only to a token requested for every scope in `needed`. */
function serveScoped(
  request: RecordedRequest,
  response: ServerResponse,
  needed: string[],
): void {
  const token = request.headers.authorization?.replace(/^Bearer /, "") ?? "";
  const scopes = state.tokenScopes.get(token) ?? [];
  if (needed.every((scope) => scopes.includes(scope))) {
    response.writeHead(200, { "docker-content-digest": manifestDigest });
    response.end(manifestBytes);
    return;
  }
  const denied = { code: "DENIED", message: "requested access to the resource is denied" };
  const body = { errors: [denied] };
  sendJson(response, 401, body, {
    "www-authenticate": challenge(needed.join(" "), "insufficient_scope"),
  });
}

function serveManifest(request: RecordedRequest, response: ServerResponse) {
  const token = request.headers.authorization?.replace(/^Bearer /, "") ?? "";
  if (state.rejectEveryToken || !state.validTokens.has(token)) {
    const body = { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] };
    sendJson(response, 401, body, {
      "www-authenticate": challenge("repository:app:pull", "invalid_token"),
    });
    return;
  }
  response.writeHead(200, {
    "content-type": "application/vnd.oci.image.manifest.v1+json",
    "docker-content-digest": manifestDigest,
  });
  response.end(manifestBytes);
}

beforeAll(async () => {
  registry = await startFakeServer((request, response) => {
    const path = request.url.split("?")[0];
    if (path === "/v2/") {
      sendJson(response, 401, {}, { "www-authenticate": challenge() });
    } else if (path === "/token") {
      issueToken(request, response);
    } else if (path === "/v2/app/manifests/latest" || path === "/v2/second/manifests/latest") {
      serveManifest(request, response);
    } else if (path === "/v2/needs-base/manifests/latest") {
      serveScoped(request, response, ["repository:needs-base:pull", "repository:base:pull"]);
    } else if (path === "/v2/forbidden/manifests/latest") {
      serveScoped(request, response, ["repository:forbidden:pull", "never:granted:pull"]);
    } else if (path === "/token-moved") {
      response.writeHead(307, { location: `${elsewhere.origin}/token` });
      response.end();
    } else {
      sendJson(response, 404, { errors: [{ code: "NAME_UNKNOWN", message: "unknown" }] });
    }
  });
  elsewhere = await startFakeServer((_request, response) => {
    sendJson(response, 200, { token: "token-from-elsewhere" });
  });
  setLogSink((line) => logLines.push(line));
  setLogLevel("debug");
});

afterAll(async () => {
  setLogLevel("warn");
  setLogSink((line) => process.stderr.write(line + "\n"));
  await registry.close();
  await elsewhere.close();
});

afterEach(() => {
  Object.assign(state, {
    tokensIssued: 0,
    validTokens: new Set<string>(),
    tokenScopes: new Map<string, string[]>(),
    requireCredentials: false,
    rejectEveryToken: false,
    tokenBody: undefined,
    tokenFailures: 0,
    rotateRefreshTokens: false,
  });
  registry.requests.length = 0;
  elsewhere.requests.length = 0;
});

function storeOf(credentials: Credentials | undefined): CredentialStore {
  return { get: async () => credentials };
}

const waits: number[] = [];
const recordedSleep = async (ms: number) => {
  waits.push(ms);
};

function sourceWith(options: { credentials?: Credentials; now?: () => number } = {}) {
  return new RegistrySource({
    name: registry.host,
    credentials: storeOf(options.credentials),
    retry: { sleep: recordedSleep, random: () => 0 },
    ...(options.now && { now: options.now }),
  });
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

describe("bearer token flow", () => {
  it("fetches one token and reuses it", async () => {
    const source = sourceWith();
    const first = await source.getManifest("app", "latest");
    await source.getManifest("app", "latest");
    await source.close();

    expect(first.digest).toBe(manifestDigest);
    const tokenRequests = requestsTo(registry, "/token");
    expect(tokenRequests).toHaveLength(1);
    const query = new URL(tokenRequests[0]!.url, registry.origin).searchParams;
    expect(query.get("service")).toBe("fake.test");
    expect(query.getAll("scope")).toEqual(["repository:app:pull"]);
    expect(query.get("account")).toBeNull();
    expect(tokenRequests[0]!.headers.authorization).toBeUndefined();
    const manifests = requestsTo(registry, "/v2/app/manifests/");
    expect(manifests.map((request) => request.headers.authorization)).toEqual([
      "Bearer token-1",
      "Bearer token-1",
    ]);
  });

  it("sends User-Agent on every request", async () => {
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.close();

    const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(userAgent).toBe(`regdav/${packageJson.version}`);
    const [probe] = requestsTo(registry, "/v2/");
    expect(probe?.url).toBe("/v2/");
    expect(probe?.headers["user-agent"]).toBe(userAgent);
    expect(requestsTo(registry, "/token")[0]?.headers["user-agent"]).toBe(userAgent);
    for (const request of registry.requests) {
      expect(request.headers["user-agent"], request.url).toBe(userAgent);
    }
  });

  it("sends the manifest Accept list", async () => {
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.close();
    const accept = requestsTo(registry, "/v2/app/manifests/")[0]!.headers.accept ?? "";
    for (const type of [
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      "application/vnd.docker.distribution.manifest.v1+json",
    ]) {
      expect(accept).toContain(type);
    }
  });

  it("sends credentials with account", async () => {
    state.requireCredentials = true;
    const source = sourceWith({ credentials: { username: "alice", password } });
    await source.getManifest("app", "latest");
    await source.close();

    const tokenRequest = requestsTo(registry, "/token")[0]!;
    const query = new URL(tokenRequest.url, registry.origin).searchParams;
    expect(query.get("account")).toBe("alice");
    expect(tokenRequest.headers.authorization).toBe(
      `Basic ${Buffer.from(`alice:${password}`).toString("base64")}`,
    );
  });

  it("exchanges an identity token by POST", async () => {
    const source = sourceWith({ credentials: { identityToken: "refresh-secret" } });
    await source.getManifest("app", "latest");
    await source.close();

    const tokenRequest = requestsTo(registry, "/token")[0]!;
    expect(tokenRequest.method).toBe("POST");
    const form = new URLSearchParams(tokenRequest.body);
    expect(form.get("grant_type")).toBe("refresh_token");
    expect(form.get("refresh_token")).toBe("refresh-secret");
    expect(form.get("service")).toBe("fake.test");
    expect(form.get("scope")).toBe("repository:app:pull");
    expect(form.get("client_id")).toBe("regdav");
  });

  it("renews a token before it expires", async () => {
    let now = Date.now();
    const source = sourceWith({ now: () => now });
    await source.getManifest("app", "latest");
    now += 200_000;
    await source.getManifest("app", "latest");
    expect(requestsTo(registry, "/token")).toHaveLength(1);

    now += 50_000; // 250 s of a 300 s token: within the last minute
    await source.getManifest("app", "latest");
    await source.close();
    expect(requestsTo(registry, "/token")).toHaveLength(2);
  });

  it("refreshes token once after 401", async () => {
    const source = sourceWith();
    await source.getManifest("app", "latest");
    state.validTokens.clear();
    const manifest = await source.getManifest("app", "latest");
    await source.close();

    expect(manifest.digest).toBe(manifestDigest);
    expect(requestsTo(registry, "/token")).toHaveLength(2);
    const manifests = requestsTo(registry, "/v2/app/manifests/");
    expect(manifests.map((request) => request.headers.authorization)).toEqual([
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });

  it("fails on second 401", async () => {
    state.rejectEveryToken = true;
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();

    expect(error.code).toBe("REGISTRY_UNAUTHORIZED");
    expect(error.message).toContain(registry.host);
    expect(error.message).toContain("/v2/app/manifests/latest");
    expect(error.message).toContain("UNAUTHORIZED authentication required");
    expect(error.message).not.toContain("token-");
    expect(requestsTo(registry, "/token")).toHaveLength(2);
  });

  it("reports rejected credentials without the password", async () => {
    state.requireCredentials = true;
    const source = sourceWith({ credentials: { username: "alice", password: "wrong-password" } });
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();

    expect(error.code).toBe("REGISTRY_UNAUTHORIZED");
    expect(error.message).toContain("incorrect username or password");
    expect(error.message).toContain(`${registry.origin}/token`);
    expect(error.message).not.toContain("wrong-password");
  });

  it("remembers a rejected login briefly", async () => {
    state.requireCredentials = true;
    const source = sourceWith({ credentials: { username: "alice", password: "wrong-password" } });
    const first = await caught(source.getManifest("app", "latest"));
    const second = await caught(source.getManifest("app", "latest"));
    await source.close();

    expect(second.message).toBe(first.message);
    expect(requestsTo(registry, "/token")).toHaveLength(1);
  });

  it("rejects a token response over 1 MiB", async () => {
    state.tokenBody = JSON.stringify({ token: "x".repeat(1024 * 1024) });
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain("token server");
  });

  it("rejects a token response without token", async () => {
    state.tokenBody = JSON.stringify({ expires_in: 300 });
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain('expected a "token" or "access_token" field');
  });

  it("shares one token fetch among concurrent requests", async () => {
    const source = sourceWith();
    await Promise.all([1, 2, 3, 4].map(() => source.getManifest("app", "latest")));
    await source.close();
    expect(requestsTo(registry, "/token")).toHaveLength(1);
    // One ping for all four: the HTTPS attempt fails before the server records a request.
    expect(requestsTo(registry, "/v2/").filter((request) => request.url === "/v2/")).toHaveLength(
      1,
    );
  });

  it("logs no token, password or query", async () => {
    logLines.length = 0;
    state.requireCredentials = true;
    const source = sourceWith({ credentials: { username: "alice", password } });
    await source.getManifest("app", "latest");
    await source.close();

    const output = logLines.join("\n");
    expect(output).toContain("/v2/app/manifests/latest");
    expect(output).toContain("status=200");
    expect(output).not.toContain("token-1");
    expect(output).not.toContain(password);
    expect(output).not.toContain("account=");
    expect(output).not.toContain("scope=repository");
  });
});

describe("token flow edge cases", () => {
  it("uses a returned refresh token", async () => {
    state.rotateRefreshTokens = true;
    const source = sourceWith({ credentials: { identityToken: "identity-secret" } });
    await source.getManifest("app", "latest");
    await source.getManifest("second", "latest");
    await source.close();

    const tokenRequests = requestsTo(registry, "/token");
    const forms = tokenRequests.map((request) => new URLSearchParams(request.body));
    expect(forms.map((form) => form.get("refresh_token"))).toEqual([
      "identity-secret",
      "rotated-1",
    ]);
    expect(forms.map((form) => form.get("scope"))).toEqual([
      "repository:app:pull",
      "repository:second:pull",
    ]);
  });

  it("asks for every challenged scope", async () => {
    const source = sourceWith();
    const manifest = await source.getManifest("needs-base", "latest");
    await source.close();

    expect(manifest.digest).toBe(manifestDigest);
    const queries = requestsTo(registry, "/token").map(
      (request) => new URL(request.url, registry.origin).searchParams,
    );
    expect(queries.map((query) => query.getAll("scope"))).toEqual([
      ["repository:needs-base:pull"],
      ["repository:needs-base:pull", "repository:base:pull"],
    ]);
    expect(queries.map((query) => query.get("service"))).toEqual(["fake.test", "fake.test"]);
  });

  it("fails insufficient scope after one retry", async () => {
    const source = sourceWith({ credentials: { username: "alice", password, source: "test" } });
    const error = await caught(source.getManifest("forbidden", "latest"));
    await source.close();

    expect(error.code).toBe("REGISTRY_UNAUTHORIZED");
    expect(error.message).toContain("DENIED requested access to the resource is denied");
    expect(error.message).toContain(
      "the registry answered insufficient_scope for repository:forbidden:pull: " +
        "check that the account of the credentials from test may read this repository",
    );
    expect(requestsTo(registry, "/token")).toHaveLength(2);
    expect(requestsTo(registry, "/v2/forbidden/")).toHaveLength(2);
  });

  it("retries a busy token server", async () => {
    state.tokenFailures = 2;
    waits.length = 0;
    const source = sourceWith();
    const manifest = await source.getManifest("app", "latest");
    await source.close();
    expect(manifest.digest).toBe(manifestDigest);
    expect(requestsTo(registry, "/token")).toHaveLength(3);
    expect(waits).toEqual([250, 500]);
  });

  it("names attempts when the token server stays busy", async () => {
    state.tokenFailures = 100;
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain(
      "returned 503 Service Unavailable: token service busy (after 5 attempts)",
    );
  });

  it("drops credentials on a realm redirect", async () => {
    const http = new HttpClient();
    const tokens = new TokenClient({ registry: registry.host, insecure: false, http });
    const token = await tokens.getToken({
      realm: `${registry.origin}/token-moved`,
      service: "fake.test",
      scopes: ["repository:app:pull"],
      loadCredentials: async () => ({ username: "alice", password }),
      registryProtocol: "http:",
    });
    await http.close();

    expect(token).toBe("token-from-elsewhere");
    expect(requestsTo(registry, "/token-moved")[0]!.headers.authorization).toBeDefined();
    expect(elsewhere.requests).toHaveLength(1);
    expect(elsewhere.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("refuses to resend a token POST elsewhere", async () => {
    const http = new HttpClient();
    const tokens = new TokenClient({ registry: registry.host, insecure: false, http });
    const error = await caught(
      tokens.getToken({
        realm: `${registry.origin}/token-moved`,
        scopes: ["repository:app:pull"],
        loadCredentials: async () => ({ identityToken: "identity-secret" }),
        registryProtocol: "http:",
      }),
    );
    await http.close();

    expect(error.message).toContain(`redirected a POST to another host, ${elsewhere.host}`);
    expect(error.message).not.toContain("identity-secret");
    expect(elsewhere.requests).toHaveLength(0);
  });
});

describe("TokenClient realm protocol", () => {
  it("withholds credentials from HTTP realm", async () => {
    const http = new HttpClient();
    const tokens = new TokenClient({ registry: "secure.example", insecure: false, http });
    const request = {
      realm: `${registry.origin}/token`,
      scopes: ["repository:app:pull"],
      loadCredentials: async () => ({ username: "alice", password }),
      registryProtocol: "https:",
    };

    const error = await caught(tokens.getToken(request));
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain("plain HTTP");
    expect(error.message).toContain("mark the registry insecure");
    expect(requestsTo(registry, "/token")).toHaveLength(0);

    const insecureTokens = new TokenClient({ registry: "secure.example", insecure: true, http });
    expect(await insecureTokens.getToken(request)).toBe("token-1");
    await http.close();
  });

  it("allows an anonymous HTTP realm", async () => {
    const http = new HttpClient();
    const tokens = new TokenClient({ registry: "secure.example", insecure: false, http });
    const token = await tokens.getToken({
      realm: `${registry.origin}/token`,
      scopes: ["repository:app:pull"],
      loadCredentials: async () => undefined,
      registryProtocol: "https:",
    });
    await http.close();
    expect(token).toBe("token-1");
  });

  it("rejects a realm that is not HTTP", async () => {
    const http = new HttpClient();
    const tokens = new TokenClient({ registry: "r.example", insecure: false, http });
    const request = {
      realm: "file:///etc/passwd",
      scopes: [],
      loadCredentials: async () => undefined,
      registryProtocol: "https:",
    };
    const error = await caught(tokens.getToken(request));
    await http.close();
    expect(error.message).toContain("not HTTP(S)");
  });
});
