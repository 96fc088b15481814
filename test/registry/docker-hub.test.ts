import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { parseServeOptions } from "../../src/cli/serve-options.js";
import { createTreeContext } from "../../src/cli/serve.js";
import type {
  HttpClient,
  HttpRequest,
  HttpResponse,
  ResponseBody,
} from "../../src/registry/http.js";
import { pingRegistry } from "../../src/registry/ping.js";
import { makeTempDir, type TempDir } from "../harness/tools.js";

/**
 * Docker Hub's special cases, checked without any request to it: the API
 * lives on registry-1.docker.io, and its registry folder does not ask for a
 * catalog, which Docker Hub does not have.
 */
let cache: TempDir;

beforeAll(async () => {
  cache = await makeTempDir("docker-hub-cache");
});

afterAll(async () => {
  await cache.remove();
});

/** Returns an HttpClient that records each request and returns 200, so nothing is sent. */
function recordingHttp(urls: string[]): HttpClient {
  const send = async (request: HttpRequest): Promise<HttpResponse> => {
    urls.push(request.url.href);
    return {
      method: request.method,
      status: 200,
      headers: {},
      body: Readable.from([]) as unknown as ResponseBody,
      url: request.url,
    };
  };
  return { send } as unknown as HttpClient;
}

describe("Docker Hub", () => {
  it("pings registry-1.docker.io", async () => {
    const urls: string[] = [];
    const http = recordingHttp(urls);
    const result = await pingRegistry({ name: "docker.io", insecure: false, http });
    expect(urls).toEqual(["https://registry-1.docker.io/v2/"]);
    expect(result.baseUrl.href).toBe("https://registry-1.docker.io/v2/");
  });

  it("lists no catalog", async () => {
    const options = parseServeOptions(["--cache-dir", cache.path, "--registry", "docker.io"]);
    const context = await createTreeContext(options);
    expect(context.sourceFor("docker.io")?.canListRepositories).toBe(false);
    expect(context.sourceFor("ghcr.io")?.canListRepositories).toBe(true);
  });
});
