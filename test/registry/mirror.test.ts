import type { ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogLevel, setLogSink } from "../../src/log.js";
import { computeDigest } from "../../src/reference/digest.js";
import type { CredentialStore } from "../../src/registry/credentials.js";
import { MirroredSource, parseMirrorOption } from "../../src/registry/mirror.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import { registrySourceFactory } from "../../src/registry/registry-sources.js";
import { sendJson, startFakeServer, type FakeServer } from "./fake-server.js";

/**
 * MirroredSource against two fake registries: the origin requires Basic
 * credentials, and the mirror responds as each test sets it.
 */
const manifestBytes = Buffer.from('{"schemaVersion":2,"manifests":[]}');
const originLogin = `Basic ${Buffer.from("origin-user:origin-secret").toString("base64")}`;

let origin: FakeServer;
let mirror: FakeServer;
let mirrorStatus = 200;
const logLines: string[] = [];

const originOnly: CredentialStore = {
  get: async (registry) =>
    registry === origin.host
      ? { username: "origin-user", password: "origin-secret", source: "test" }
      : undefined,
};

function serveManifest(response: ServerResponse, from: string) {
  response.writeHead(200, { "docker-content-digest": computeDigest(manifestBytes), from });
  response.end(manifestBytes);
}

beforeAll(async () => {
  origin = await startFakeServer((request, response) => {
    if (request.headers.authorization !== originLogin) {
      response.writeHead(401, { "www-authenticate": 'Basic realm="origin"' });
      response.end();
      return;
    }
    if (request.url.includes("/tags/list")) return sendJson(response, 200, { tags: ["origin"] });
    if (request.url.startsWith("/v2/_catalog")) {
      return sendJson(response, 200, { repositories: ["from-origin"] });
    }
    if (request.url === "/v2/") return sendJson(response, 200, {});
    serveManifest(response, "origin");
  });
  mirror = await startFakeServer((request, response) => {
    if (request.url === "/v2/") return sendJson(response, 200, {});
    if (mirrorStatus !== 200) {
      const body = { errors: [{ code: "MANIFEST_UNKNOWN", message: "not cached" }] };
      return sendJson(response, mirrorStatus, body);
    }
    if (request.url.includes("/tags/list")) return sendJson(response, 200, { tags: ["mirror"] });
    serveManifest(response, "mirror");
  });
  setLogSink((line) => logLines.push(line));
  setLogLevel("info");
});

afterAll(async () => {
  setLogLevel("warn");
  setLogSink((line) => process.stderr.write(line + "\n"));
  await origin.close();
  await mirror.close();
});

afterEach(() => {
  mirrorStatus = 200;
  origin.requests.length = 0;
  mirror.requests.length = 0;
  logLines.length = 0;
});

function mirroredSource(): MirroredSource {
  const source = registrySourceFactory({
    insecureRegistries: [],
    mirrors: [{ registry: origin.host, url: new URL(mirror.origin) }],
    credentials: originOnly,
  })(origin.host);
  expect(source).toBeInstanceOf(MirroredSource);
  return source as MirroredSource;
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

describe("MirroredSource", () => {
  it("reads from the mirror first", async () => {
    const source = mirroredSource();
    expect(await source.listTags("team/app")).toEqual(["mirror"]);
    await source.getManifest("team/app", "v1");
    await source.close();

    expect(origin.requests).toHaveLength(0);
    expect(mirror.requests.map((request) => request.url)).toEqual([
      "/v2/",
      "/v2/team/app/tags/list?n=1000",
      "/v2/team/app/manifests/v1",
    ]);
    expect(logLines.join("\n")).toContain(
      `read through mirror registry=${origin.host} mirror=${mirror.host} operation=tags`,
    );
  });

  it("never sends the origin's login to the mirror", async () => {
    const source = mirroredSource();
    mirrorStatus = 404;
    await source.getManifest("team/app", "v1");
    await source.close();

    expect(mirror.requests.map((request) => request.headers.authorization)).toEqual([
      undefined,
      undefined,
    ]);
    expect(origin.requests.at(-1)!.headers.authorization).toBe(originLogin);
  });

  it("falls back after a mirror error", async () => {
    mirrorStatus = 500;
    const source = new MirroredSource(
      new RegistrySource({ name: origin.host, credentials: originOnly }),
      [
        {
          url: new URL(mirror.origin),
          source: new RegistrySource({ name: mirror.host, retry: { maxRetries: 0 } }),
        },
      ],
    );
    expect(await source.listTags("team/app")).toEqual(["origin"]);
    await source.close();

    const log = logLines.join("\n");
    expect(log).toContain(`WARN read failed, asking the next source registry=${origin.host}`);
    expect(log).toContain("returned 500 Internal Server Error");
    expect(log).toContain(`INFO read from the registry registry=${origin.host} operation=tags`);
  });

  it("logs a mirror miss at info", async () => {
    mirrorStatus = 404;
    const source = mirroredSource();
    await source.getManifest("team/app", "v1");
    await source.close();
    expect(logLines.join("\n")).toContain("INFO not found, asking the next source");
  });

  it("skips an unreachable mirror for a while", async () => {
    const closed = await startFakeServer(() => undefined);
    await closed.close();
    let now = 1_000_000;
    const source = new MirroredSource(
      new RegistrySource({ name: origin.host, credentials: originOnly }),
      [
        {
          url: new URL(closed.origin),
          source: new RegistrySource({ name: closed.host, protocol: "http:" }),
        },
      ],
      () => now,
    );
    await source.listTags("a");
    await source.listTags("b");
    now += 31_000;
    await source.listTags("c");
    await source.close();

    const failures = logLines.filter((line) => line.includes("read failed"));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain("repository=a");
    expect(failures[1]).toContain("repository=c");
    expect(failures[0]).toContain("ECONNREFUSED");
  });

  it("keeps a bad request from the origin", async () => {
    const source = mirroredSource();
    const error = await caught(source.getManifest("Team/App", "v1"));
    await source.close();
    expect(error.code).toBe("BAD_REQUEST");
    expect(origin.requests).toHaveLength(0);
  });

  it("lists the catalog from the origin", async () => {
    const source = mirroredSource();
    expect(await source.listRepositories()).toEqual(["from-origin"]);
    await source.close();
    expect(mirror.requests).toHaveLength(0);
  });
});

describe("registrySourceFactory", () => {
  it("wraps only mirrored registries", () => {
    const open = registrySourceFactory({
      insecureRegistries: [],
      mirrors: [{ registry: "docker.io", url: new URL("http://127.0.0.1:9") }],
      credentials: originOnly,
    });
    expect(open("docker.io")).toBeInstanceOf(MirroredSource);
    expect(open("ghcr.io")).toBeInstanceOf(RegistrySource);
  });
});

describe("parseMirrorOption", () => {
  it.each([
    ["docker.io=http://127.0.0.1:5001", "docker.io", "http://127.0.0.1:5001/"],
    ["index.docker.io=https://mirror.example", "docker.io", "https://mirror.example/"],
    ["ghcr.io=https://cache.example:8443/", "ghcr.io", "https://cache.example:8443/"],
  ])("reads %s", (text, registry, url) => {
    const parsed = parseMirrorOption(text);
    expect(parsed.registry).toBe(registry);
    expect(parsed.url.href).toBe(url);
  });

  it.each([
    ["http://127.0.0.1:5001", "use NAME=URL"],
    ["docker.io=127.0.0.1:5001", "must start with http:// or https://"],
    ["docker.io=ftp://x", "must start with http:// or https://"],
    ["docker.io=localhost:5001", "must start with http:// or https://"],
    ["docker.io=http://[::1", 'invalid mirror URL "http://[::1"'],
    ["docker.io=http://u:p@m.example", "put credentials in an auth file"],
    ["docker.io=http://m.example/v2/", "only a scheme, host and port"],
    ["=http://m.example", "use NAME=URL"],
    ["bad_name!=http://m.example", 'invalid registry name "bad_name!"'],
  ])("rejects %s", (text, message) => {
    expect(() => parseMirrorOption(text)).toThrow(message);
  });
});
