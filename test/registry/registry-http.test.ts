import type { ServerResponse } from "node:http";
import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogSink } from "../../src/log.js";
import { computeDigest } from "../../src/reference/digest.js";
import { HttpClient } from "../../src/registry/http.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import {
  requestsTo,
  sendJson,
  startFakeServer,
  type FakeServer,
  type RecordedRequest,
} from "./fake-server.js";

/**
 * Redirects, size limits, corrupt content, paging and timeouts, against a
 * fake registry on loopback that requires a bearer token for everything, so
 * that every request carries an Authorization header to drop or keep.
 */
const blobBytes = Buffer.from("blob content from storage");
const blobDigest = computeDigest(blobBytes);
const otherDigest = computeDigest(Buffer.from("something else"));
const token = "registry-token-secret";
const maxManifest = 4 * 1024 * 1024;

let registry: FakeServer;
let storage: FakeServer;

function requireToken(request: RecordedRequest, response: ServerResponse): boolean {
  if (request.headers.authorization === `Bearer ${token}`) return true;
  const challenge = `Bearer realm="${registry.origin}/token",service="fake"`;
  sendJson(
    response,
    401,
    { errors: [{ code: "UNAUTHORIZED", message: "no" }] },
    { "www-authenticate": challenge },
  );
  return false;
}

function redirect(response: ServerResponse, location: string, status = 307) {
  response.writeHead(status, { location });
  response.end();
}

const routes: Record<string, (request: RecordedRequest, response: ServerResponse) => void> = {
  [`/v2/app/blobs/${blobDigest}`]: (_request, response) =>
    redirect(response, `${storage.origin}/blob?sig=storage-secret`),
  [`/v2/relative/blobs/${blobDigest}`]: (_request, response) =>
    redirect(response, `/v2/app/blobs/${blobDigest}`, 302),
  [`/v2/corrupt/blobs/${blobDigest}`]: (_request, response) =>
    response.end(Buffer.from("blob content from sTorage")),
  [`/v2/short/blobs/${blobDigest}`]: (_request, response) => response.end(blobBytes.subarray(1)),
  [`/v2/loop/blobs/${blobDigest}`]: (_request, response) =>
    redirect(response, `/v2/loop/blobs/${blobDigest}`),
  [`/v2/ftp/blobs/${blobDigest}`]: (_request, response) => redirect(response, "ftp://127.0.0.1/x"),
  "/v2/app/manifests/wrong": (_request, response) => {
    response.writeHead(200, {
      "docker-content-digest": otherDigest,
      "content-type": "application/json",
    });
    response.end('{"schemaVersion":2,"manifests":[]}');
  },
  [`/v2/app/manifests/${otherDigest}`]: (_request, response) => {
    const bytes = Buffer.from('{"schemaVersion":2,"manifests":[]}');
    response.writeHead(200, { "docker-content-digest": computeDigest(bytes) });
    response.end(bytes);
  },
  "/v2/app/manifests/bad-header": (_request, response) => {
    response.writeHead(200, {
      "docker-content-digest": "sha256:nothex",
      "content-type": "application/json",
    });
    response.end('{"schemaVersion":2,"manifests":[]}');
  },
  "/v2/app/manifests/huge-declared": (_request, response) => {
    response.writeHead(200, { "content-length": String(maxManifest + 1) });
    response.end(Buffer.alloc(maxManifest + 1, 32));
  },
  "/v2/app/manifests/huge-chunked": (_request, response) => {
    response.writeHead(200, { "transfer-encoding": "chunked" });
    for (let sent = 0; sent <= maxManifest; sent += 65536) response.write(Buffer.alloc(65536, 32));
    response.end();
  },
  "/v2/app/manifests/limit": (_request, response) => {
    response.end(
      Buffer.concat([
        Buffer.from('{"schemaVersion":2,"manifests":[]}'),
        Buffer.alloc(maxManifest - 34, 32),
      ]),
    );
  },
  "/v2/app/manifests/slow": () => {
    // never responds, so the headers timeout fires
  },
  "/v2/_catalog": (request, response) => {
    const last = new URL(request.url, registry.origin).searchParams.get("last");
    if (last === null) {
      response.setHeader("link", '</v2/_catalog?last=b&n=2>; rel="next"');
      sendJson(response, 200, { repositories: ["a", "b"] });
    } else if (last === "b") {
      response.setHeader("link", `<${registry.origin}/v2/_catalog?last=d&n=2>; rel="next"`);
      sendJson(response, 200, { repositories: ["c", "d"] });
    } else {
      sendJson(response, 200, { repositories: ["e"] });
    }
  },
  "/v2/app/tags/list": (request, response) => {
    const last = new URL(request.url, registry.origin).searchParams.get("last");
    if (last === null) response.setHeader("link", '</v2/app/tags/list?last=1>; rel="next"');
    sendJson(response, 200, { name: "app", tags: last === null ? ["1"] : null });
  },
  "/v2/looping/tags/list": (_request, response) => {
    response.setHeader("link", '</v2/looping/tags/list?n=1000>; rel="next"');
    sendJson(response, 200, { name: "looping", tags: ["x"] });
  },
  "/v2/elsewhere/tags/list": (_request, response) => {
    response.setHeader("link", `<${storage.origin}/v2/elsewhere/tags/list?last=x>; rel="next"`);
    sendJson(response, 200, { name: "elsewhere", tags: ["x"] });
  },
  "/v2/broken/tags/list": (_request, response) => sendJson(response, 200, { tags: "not-a-list" }),
};

beforeAll(async () => {
  storage = await startFakeServer((request, response) => {
    if (request.url.startsWith("/blob")) response.end(blobBytes);
    else sendJson(response, 404, {});
  });
  registry = await startFakeServer((request, response) => {
    const path = request.url.split("?")[0]!;
    if (path === "/token") return sendJson(response, 200, { token });
    if (!requireToken(request, response)) return;

    const many = /^\/v2\/many\/blobs\/[^/]+\/hop(\d+)$/.exec(path);
    if (many) return redirect(response, `${path.replace(/hop\d+$/, `hop${Number(many[1]) + 1}`)}`);
    const route = routes[path];
    if (route) return route(request, response);
    sendJson(response, 404, { errors: [{ code: "NAME_UNKNOWN", message: "unknown" }] });
  });
});

afterAll(async () => {
  await registry.close();
  await storage.close();
});

async function caught(promise: Promise<unknown>): Promise<RegdavError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegdavError) return error;
    throw error;
  }
  throw new Error("expected a RegdavError");
}

async function withSource<T>(
  action: (source: RegistrySource) => Promise<T>,
  headersTimeoutMs?: number,
) {
  const source = new RegistrySource({
    name: registry.host,
    pageSize: 2,
    ...(headersTimeoutMs !== undefined && { http: { headersTimeoutMs } }),
  });
  try {
    return await action(source);
  } finally {
    await source.close();
  }
}

describe("blob redirects", () => {
  it("drops Authorization for another host", async () => {
    storage.requests.length = 0;
    const content = await withSource(async (source) => {
      const stream = await source.openBlob("app", { digest: blobDigest, size: blobBytes.length });
      return text(stream);
    });
    expect(content).toBe(blobBytes.toString());
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.url).toBe("/blob?sig=storage-secret");
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    const blobRequests = requestsTo(registry, `/v2/app/blobs/${blobDigest}`);
    expect(blobRequests.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("keeps Authorization on the same host", async () => {
    registry.requests.length = 0;
    await withSource(async (source) =>
      text(await source.openBlob("relative", { digest: blobDigest })),
    );
    const hops = requestsTo(registry, "/v2/").filter((request) => request.url.includes("/blobs/"));
    expect(hops.map((request) => request.url)).toEqual([
      `/v2/relative/blobs/${blobDigest}`,
      `/v2/app/blobs/${blobDigest}`,
    ]);
    expect(hops.map((request) => request.headers.authorization)).toEqual([
      `Bearer ${token}`,
      `Bearer ${token}`,
    ]);
  });

  it("rejects a redirect loop", async () => {
    const error = await caught(
      withSource((source) => source.openBlob("loop", { digest: blobDigest })),
    );
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain("redirected in a loop");
  });

  it("rejects path-like digest early", async () => {
    registry.requests.length = 0;
    const error = await caught(
      withSource((source) => source.openBlob("many", { digest: `${blobDigest}/hop0` })),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(registry.requests.filter((request) => request.url.includes("/many/"))).toHaveLength(0);
  });

  it("rejects a redirect to another scheme", async () => {
    const error = await caught(
      withSource((source) => source.openBlob("ftp", { digest: blobDigest })),
    );
    expect(error.message).toContain("unsupported URL ftp://127.0.0.1/x");
  });
});

describe("redirect limit", () => {
  it("stops after 10 redirects", async () => {
    const http = new HttpClient();
    const url = new URL(`${registry.origin}/v2/many/blobs/x/hop0`);
    const error = await caught(
      http.send({ method: "GET", url, headers: { authorization: `Bearer ${token}` } }),
    );
    await http.close();
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain("redirected more than 10 times");
    const hops = registry.requests.filter((request) => request.url.startsWith("/v2/many/"));
    expect(hops.at(-1)!.url).toBe("/v2/many/blobs/x/hop10");
  });
});

describe("content verification", () => {
  it("fails corrupt blob at stream end", async () => {
    const error = await caught(
      withSource(async (source) =>
        text(await source.openBlob("corrupt", { digest: blobDigest, size: blobBytes.length })),
      ),
    );
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain(blobDigest);
    expect(error.message).toContain(computeDigest(Buffer.from("blob content from sTorage")));
    expect(error.message).toContain("corrupt");
  });

  it("fails a short blob without declared size", async () => {
    const error = await caught(
      withSource(async (source) => text(await source.openBlob("short", { digest: blobDigest }))),
    );
    expect(error.code).toBe("DIGEST_MISMATCH");
  });

  it("fails a manifest whose Docker-Content-Digest differs", async () => {
    const error = await caught(withSource((source) => source.getManifest("app", "wrong")));
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain(otherDigest);
    expect(error.message).toContain(
      computeDigest(Buffer.from('{"schemaVersion":2,"manifests":[]}')),
    );
    expect(error.message).toContain("manifest");
  });

  it("checks the requested digest, not the header", async () => {
    const error = await caught(withSource((source) => source.getManifest("app", otherDigest)));
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain(`manifest ${otherDigest} of app`);
  });

  it("hashes when digest header invalid", async () => {
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    try {
      const manifest = await withSource((source) => source.getManifest("app", "bad-header"));
      expect(manifest.digest).toBe(
        computeDigest(Buffer.from('{"schemaVersion":2,"manifests":[]}')),
      );
      expect(manifest.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    } finally {
      setLogSink((line) => process.stderr.write(line + "\n"));
    }
    expect(lines.join("\n")).toContain("ignoring an invalid Docker-Content-Digest header");
    expect(lines.join("\n")).toContain("header=sha256:nothex");
  });
});

describe("manifest size limit", () => {
  it.each([["huge-declared"], ["huge-chunked"]])("rejects %s", async (tag) => {
    const error = await caught(withSource((source) => source.getManifest("app", tag)));
    expect(error.code).toBe("INVALID_MANIFEST");
    expect(error.message).toContain("too large");
    expect(error.message).toContain(`manifest ${tag} of app`);
  });

  it("accepts exactly 4 MiB", async () => {
    const manifest = await withSource((source) => source.getManifest("app", "limit"));
    expect(manifest.bytes.length).toBe(maxManifest);
  });
});

describe("listing pages", () => {
  it("follows relative and absolute next links", async () => {
    registry.requests.length = 0;
    const names = await withSource((source) => source.listRepositories());
    expect(names).toEqual(["a", "b", "c", "d", "e"]);
    const pages = requestsTo(registry, "/v2/_catalog").map((request) => request.url);
    expect(pages.filter((url) => url.includes("n=2"))).toHaveLength(3);
    expect(pages[pages.length - 1]).toBe("/v2/_catalog?last=d&n=2");
  });

  it("reads null tags as none", async () => {
    expect(await withSource((source) => source.listTags("app"))).toEqual(["1"]);
  });

  it("rejects a page loop", async () => {
    const error = await caught(withSource((source) => source.listTags("looping")));
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toContain("linked back to page");
  });

  it("rejects a link to another host", async () => {
    storage.requests.length = 0;
    const error = await caught(withSource((source) => source.listTags("elsewhere")));
    expect(error.message).toContain(`linked to another host: ${storage.host}`);
    expect(storage.requests).toHaveLength(0);
  });

  it("rejects non-list tags field", async () => {
    const error = await caught(withSource((source) => source.listTags("broken")));
    expect(error.message).toContain("tags field that is not a list");
  });
});

describe("timeouts and unreachable registries", () => {
  it("times out waiting for headers", async () => {
    const error = await caught(withSource((source) => source.getManifest("app", "slow"), 300));
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain(registry.host);
    expect(error.message).toContain("/v2/app/manifests/slow");
  });

  it("names both attempts when nothing listens", async () => {
    const closed = await startFakeServer(() => undefined);
    const host = closed.host;
    await closed.close();
    const source = new RegistrySource({ name: host });
    const error = await caught(source.listTags("app"));
    await source.close();
    expect(error.code).toBe("REGISTRY_UNREACHABLE");
    expect(error.message).toContain(`registry ${host} is unreachable`);
    expect(error.message).toContain(`https://${host}/v2/`);
    expect(error.message).toContain(`http://${host}/v2/`);
    expect(error.message).toContain("ECONNREFUSED");
  });
});

describe("basic auth blob redirect", () => {
  it("sends no Basic credentials to storage", async () => {
    const expected = `Basic ${Buffer.from("bob:builder-secret").toString("base64")}`;
    const basic = await startFakeServer((request, response) => {
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { "www-authenticate": 'Basic realm="Registry"' });
        response.end();
        return;
      }
      if (request.url.includes("/blobs/")) return redirect(response, `${storage.origin}/blob?sig=s`);
      sendJson(response, 200, {});
    });
    storage.requests.length = 0;
    const source = new RegistrySource({
      name: basic.host,
      credentials: { get: async () => ({ username: "bob", password: "builder-secret" }) },
    });
    const content = await text(await source.openBlob("app", { digest: blobDigest }));
    await source.close();
    await basic.close();

    expect(content).toBe(blobBytes.toString());
    const blobRequests = basic.requests.filter((request) => request.url.includes("/blobs/"));
    expect(blobRequests.at(-1)!.headers.authorization).toBe(expected);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(storage.requests[0]!.headers)).not.toContain("builder-secret");
  });
});

describe("basic auth registry", () => {
  it("answers a Basic challenge with stored credentials", async () => {
    const expected = `Basic ${Buffer.from("bob:builder").toString("base64")}`;
    const basic = await startFakeServer((request, response) => {
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { "www-authenticate": 'Basic realm="Registry"' });
        response.end();
        return;
      }
      sendJson(response, 200, request.url.startsWith("/v2/app/tags/") ? { tags: ["v1"] } : {});
    });
    const source = new RegistrySource({
      name: basic.host,
      credentials: { get: async () => ({ username: "bob", password: "builder" }) },
    });
    const tags = await source.listTags("app");
    await source.close();
    await basic.close();

    expect(tags).toEqual(["v1"]);
    expect(basic.requests.map((request) => request.headers.authorization)).toEqual([
      undefined,
      expected,
    ]);
  });
});
