import type { ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogLevel, setLogSink } from "../../src/log.js";
import { computeDigest } from "../../src/reference/digest.js";
import { RateLimitLog } from "../../src/registry/rate-limit-log.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import { retryAfterMs, RetrySchedule, type RetryPolicy } from "../../src/registry/retry.js";
import {
  requestsTo,
  sendJson,
  startFakeServer,
  type FakeServer,
  type RecordedRequest,
} from "./fake-server.js";

/**
 * Retries after 429 and 5xx, rate-limit logging, page-size fallbacks and
 * HEAD without a digest, against a fake registry whose responses each test
 * scripts. Waits are recorded instead of slept.
 */
const manifestBytes = Buffer.from(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
);
const manifestDigest = computeDigest(manifestBytes);
const fixedNow = Date.UTC(2024, 0, 1, 12, 0, 0);

type Script = (request: RecordedRequest, response: ServerResponse) => void;
let registry: FakeServer;
let script: Script;
const waits: number[] = [];
const logLines: string[] = [];

function policy(overrides: Partial<RetryPolicy> = {}): Partial<RetryPolicy> {
  return {
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0,
    now: () => fixedNow,
    ...overrides,
  };
}

function sourceWith(retry: Partial<RetryPolicy> = policy(), pageSize?: number) {
  return new RegistrySource({
    name: registry.host,
    retry,
    ...(pageSize !== undefined && { pageSize }),
  });
}

/** Fails the first `count` manifest requests with `status`, then serves the manifest. */
function failFirst(count: number, status: number, headers: Record<string, string> = {}): Script {
  let failures = 0;
  return (_request, response) => {
    if (failures++ < count) {
      const body = { errors: [{ code: "UNAVAILABLE", message: "try later" }] };
      sendJson(response, status, body, headers);
      return;
    }
    serveManifest(response);
  };
}

function serveManifest(response: ServerResponse, headers: Record<string, string> = {}) {
  response.writeHead(200, {
    "content-type": "application/vnd.oci.image.index.v1+json",
    "docker-content-digest": manifestDigest,
    ...headers,
  });
  response.end(manifestBytes);
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

beforeAll(async () => {
  registry = await startFakeServer((request, response) => {
    if (request.url === "/v2/") return sendJson(response, 200, {});
    script(request, response);
  });
  setLogSink((line) => logLines.push(line));
  setLogLevel("info");
});

afterAll(async () => {
  setLogLevel("warn");
  setLogSink((line) => process.stderr.write(line + "\n"));
  await registry.close();
});

afterEach(() => {
  registry.requests.length = 0;
  waits.length = 0;
  logLines.length = 0;
});

const manifestRequests = () => requestsTo(registry, "/v2/app/manifests/");

describe("retries of registry requests", () => {
  it("retries 503 with backoff", async () => {
    script = failFirst(2, 503);
    const source = sourceWith();
    const manifest = await source.getManifest("app", "latest");
    await source.close();

    expect(manifest.digest).toBe(manifestDigest);
    expect(manifestRequests()).toHaveLength(3);
    expect(waits).toEqual([250, 500]);
    expect(logLines.join("\n")).toContain("registry request failed, retrying");
    expect(logLines.join("\n")).toContain("status=503 attempt=1 delayMs=250");
  });

  it("adds jitter up to the full backoff", async () => {
    script = failFirst(3, 502);
    const source = sourceWith(policy({ random: () => 0.999 }));
    await source.getManifest("app", "latest");
    await source.close();
    expect(waits).toEqual([500, 1000, 1999]);
  });

  it("honors Retry-After seconds", async () => {
    script = failFirst(1, 429, { "retry-after": "3" });
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.close();
    expect(waits).toEqual([3000]);
  });

  it("honors Retry-After as HTTP-date", async () => {
    const date = new Date(fixedNow + 7000).toUTCString();
    script = failFirst(1, 503, { "retry-after": date });
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.close();
    expect(waits).toEqual([7000]);
  });

  it("stops after four retries", async () => {
    script = failFirst(100, 429, { "retry-after": "1" });
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();

    expect(manifestRequests()).toHaveLength(5);
    expect(waits).toEqual([1000, 1000, 1000, 1000]);
    expect(error.code).toBe("REGISTRY_ERROR");
    expect(error.message).toBe(
      `registry ${registry.host}: GET /v2/app/manifests/latest returned 429 Too Many ` +
        "Requests: UNAVAILABLE try later (rate limited, Retry-After: 1) (after 5 attempts)",
    );
  });

  it("stops when Retry-After passes the time limit", async () => {
    script = failFirst(100, 503, { "retry-after": "31" });
    const source = sourceWith();
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();

    expect(manifestRequests()).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(error.message).toContain("returned 503 Service Unavailable");
    expect(error.message).toContain("(Retry-After: 31)");
    expect(error.message).not.toContain("attempts");
  });

  it("counts waits against the time limit", async () => {
    script = failFirst(100, 500);
    let clock = fixedNow;
    const retry = policy({
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
      maxTotalMs: 1000,
      maxRetries: 10,
    });
    const source = sourceWith(retry);
    const error = await caught(source.getManifest("app", "latest"));
    await source.close();
    expect(waits).toEqual([250, 500]);
    expect(error.message).toContain("(after 3 attempts)");
  });

  it("does not retry 501 or 404", async () => {
    for (const status of [501, 404]) {
      registry.requests.length = 0;
      script = failFirst(1, status);
      const source = sourceWith();
      await caught(source.getManifest("app", "latest"));
      await source.close();
      expect(manifestRequests()).toHaveLength(1);
    }
    expect(waits).toEqual([]);
  });

  it("retries tag lists", async () => {
    let calls = 0;
    script = (_request, response) => {
      if (calls++ === 0) return sendJson(response, 500, {});
      sendJson(response, 200, { name: "app", tags: ["1"] });
    };
    const source = sourceWith();
    expect(await source.listTags("app")).toEqual(["1"]);
    await source.close();
    expect(waits).toEqual([250]);
  });
});

describe("RetrySchedule", () => {
  it.each([
    ["120", 120_000],
    ["0", 0],
    [new Date(fixedNow + 2000).toUTCString(), 2000],
    [new Date(fixedNow - 5000).toUTCString(), 0],
    ["soon", undefined],
    ["1.5", undefined],
  ])("reads Retry-After %s", (value, expected) => {
    expect(retryAfterMs(value, fixedNow)).toBe(expected);
  });

  it("returns nothing for success", () => {
    const schedule = new RetrySchedule(policy());
    expect(schedule.nextDelay(200, {})).toBeUndefined();
    expect(schedule.nextDelay(401, {})).toBeUndefined();
    expect(schedule.nextDelay(505, {})).toBeUndefined();
    expect(schedule.nextDelay(504, {})).toBe(250);
  });
});

describe("rate-limit headers", () => {
  it("logs them once a minute", async () => {
    const headers = { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600" };
    script = (_request, response) => serveManifest(response, headers);
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.getManifest("app", "latest");
    await source.close();

    const lines = logLines.filter((line) => line.includes("registry rate limit"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("INFO registry rate limit");
    expect(lines[0]).toContain(`registry=${registry.host} status=200`);
    expect(lines[0]).toContain('limit="100;w=21600" remaining="76;w=21600"');
  });

  it("logs every 429 and then once a minute", () => {
    let now = fixedNow;
    const rateLimits = new RateLimitLog("docker.io", () => now);
    const headers = { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600" };
    rateLimits.observe(200, headers);
    rateLimits.observe(200, headers);
    rateLimits.observe(429, headers);
    now += 59_000;
    rateLimits.observe(200, headers);
    now += 2_000;
    rateLimits.observe(200, headers);

    const lines = logLines.filter((line) => line.includes("registry rate limit"));
    expect(lines.map((line) => /status=(\d+)/.exec(line)?.[1])).toEqual(["200", "429", "200"]);
  });

  it("logs nothing without them", async () => {
    script = (_request, response) => serveManifest(response);
    const source = sourceWith();
    await source.getManifest("app", "latest");
    await source.close();
    expect(logLines.filter((line) => line.includes("rate limit"))).toEqual([]);
  });
});

describe("page size fallback", () => {
  it("asks for 100 after a rejected n", async () => {
    script = (request, response) => {
      const n = new URL(request.url, registry.origin).searchParams.get("n");
      if (n === "1000") {
        const error = {
          code: "PAGINATION_NUMBER_INVALID",
          message: "invalid number of results requested",
        };
        return sendJson(response, 400, { errors: [error] });
      }
      sendJson(response, 200, { name: "app", tags: [`n=${n}`] });
    };
    const source = sourceWith();
    expect(await source.listTags("app")).toEqual(["n=100"]);
    await source.close();
    expect(requestsTo(registry, "/v2/app/tags/list").map((request) => request.url)).toEqual([
      "/v2/app/tags/list?n=1000",
      "/v2/app/tags/list?n=100",
    ]);
    expect(logLines.join("\n")).toContain("registry rejected the page size of a list");
  });

  it("drops n after two 413s", async () => {
    script = (request, response) => {
      if (request.url.includes("n=")) return sendJson(response, 413, {});
      sendJson(response, 200, { name: "app", tags: ["all"] });
    };
    const source = sourceWith();
    expect(await source.listTags("app")).toEqual(["all"]);
    await source.close();
    expect(requestsTo(registry, "/v2/app/tags/list").map((request) => request.url)).toEqual([
      "/v2/app/tags/list?n=1000",
      "/v2/app/tags/list?n=100",
      "/v2/app/tags/list",
    ]);
  });

  it("keeps other 400 errors", async () => {
    script = (_request, response) =>
      sendJson(response, 400, { errors: [{ code: "NAME_INVALID", message: "invalid name" }] });
    const source = sourceWith();
    const error = await caught(source.listTags("app"));
    await source.close();
    expect(error.message).toContain("NAME_INVALID invalid name");
    expect(requestsTo(registry, "/v2/app/tags/list")).toHaveLength(1);
  });

  it("caps the page size at 1000", async () => {
    script = (_request, response) => sendJson(response, 200, { name: "app", tags: [] });
    const source = sourceWith(policy(), 5000);
    await source.listTags("app");
    await source.close();
    expect(requestsTo(registry, "/v2/app/tags/list")[0]!.url).toBe("/v2/app/tags/list?n=1000");
  });

  it("follows opaque next links", async () => {
    script = (request, response) => {
      const url = new URL(request.url, registry.origin);
      if (url.pathname === "/v2/app/tags/list" && !url.searchParams.has("next_page")) {
        response.setHeader("link", '<?next_page=opaque%2Ftoken%3D%3D>; rel="next"');
        return sendJson(response, 200, { name: "app", tags: ["a"] });
      }
      sendJson(response, 200, { name: "app", tags: [url.searchParams.get("next_page")] });
    };
    const source = sourceWith();
    expect(await source.listTags("app")).toEqual(["a", "opaque/token=="]);
    await source.close();
    expect(requestsTo(registry, "/v2/app/tags/list").map((request) => request.url)).toEqual([
      "/v2/app/tags/list?n=1000",
      "/v2/app/tags/list?next_page=opaque%2Ftoken%3D%3D",
    ]);
  });
});

describe("manifest digest by HEAD", () => {
  it("hashes a GET when HEAD has no digest", async () => {
    script = (request, response) => {
      if (request.method === "HEAD") {
        response.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" });
        return response.end();
      }
      response.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" });
      response.end(manifestBytes);
    };
    const source = sourceWith();
    expect(await source.headManifest("app", "latest")).toEqual({
      mediaType: "application/vnd.oci.image.index.v1+json",
    });
    expect(await source.manifestDigest("app", "latest")).toBe(manifestDigest);
    await source.close();

    const [head, secondHead, get] = manifestRequests();
    expect(head!.method).toBe("HEAD");
    expect(secondHead!.method).toBe("HEAD");
    expect(get!.method).toBe("GET");
    expect(head!.headers.accept).toBe(get!.headers.accept);
  });

  it("uses the HEAD digest when sent", async () => {
    script = (_request, response) => serveManifest(response);
    const source = sourceWith();
    expect(await source.manifestDigest("app", "latest")).toBe(manifestDigest);
    await source.close();
    expect(manifestRequests().map((request) => request.method)).toEqual(["HEAD"]);
  });
});
