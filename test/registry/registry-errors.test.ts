import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";

import type { HttpResponse, ResponseBody } from "../../src/registry/http.js";
import { errorFromResponse, parseRegistryErrors } from "../../src/registry/registry-errors.js";

function response(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    method: "GET",
    status,
    headers,
    body: Readable.from([Buffer.from(body)]) as unknown as ResponseBody,
    url: new URL("http://127.0.0.1:5000/v2/app/manifests/1"),
  };
}

const context = { registry: "127.0.0.1:5000", method: "GET", path: "/v2/app/manifests/1" };
const errorsBody = (code: string, message: string) =>
  JSON.stringify({ errors: [{ code, message }] });

describe("errorFromResponse", () => {
  it.each([
    [404, errorsBody("MANIFEST_UNKNOWN", "manifest unknown"), "NOT_FOUND"],
    [404, errorsBody("BLOB_UNKNOWN", "blob unknown"), "NOT_FOUND"],
    [404, errorsBody("NAME_UNKNOWN", "repository name not known"), "NOT_FOUND"],
    [404, "", "NOT_FOUND"],
    [404, errorsBody("UNSUPPORTED", "not supported"), "REGISTRY_ERROR"],
    [401, errorsBody("UNAUTHORIZED", "authentication required"), "REGISTRY_UNAUTHORIZED"],
    [403, errorsBody("DENIED", "requested access is denied"), "REGISTRY_DENIED"],
    [429, errorsBody("TOOMANYREQUESTS", "rate limit"), "REGISTRY_ERROR"],
    [500, "internal", "REGISTRY_ERROR"],
    [400, errorsBody("NAME_INVALID", "invalid name"), "REGISTRY_ERROR"],
  ])("maps %i %s to %s", async (status, body, code) => {
    const error = await errorFromResponse(context, response(status, body));
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
  });

  it("names registry, path and codes", async () => {
    const body = errorsBody("MANIFEST_UNKNOWN", "manifest unknown");
    const error = await errorFromResponse(context, response(404, body));
    expect(error.message).toBe(
      "registry 127.0.0.1:5000: GET /v2/app/manifests/1 returned 404 Not Found: " +
        "MANIFEST_UNKNOWN manifest unknown",
    );
    expect(error.errors).toEqual([{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }]);
  });

  it("quotes a plain-text body, shortened", async () => {
    const error = await errorFromResponse(
      context,
      response(502, `bad\ngateway ${"x".repeat(1000)}`),
    );
    expect(error.message).toContain("returned 502 Bad Gateway: bad gateway xxx");
    expect(error.message.length).toBeLessThan(700);
  });

  it("adds Retry-After for rate limits", async () => {
    const error = await errorFromResponse(context, response(429, "", { "retry-after": "30" }));
    expect(error.message).toContain("Retry-After: 30");
  });

  it("reads no body for HEAD", async () => {
    const error = await errorFromResponse({ ...context, method: "HEAD" }, response(404, "ignored"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).not.toContain("ignored");
  });
});

describe("parseRegistryErrors", () => {
  it("reads several errors and tolerates odd entries", () => {
    const body = JSON.stringify({
      errors: [{ code: "A", message: "a" }, { message: "no code" }, null],
    });
    expect(parseRegistryErrors(body)).toEqual([
      { code: "A", message: "a" },
      { code: "UNKNOWN", message: "no code" },
      { code: "UNKNOWN", message: "" },
    ]);
  });

  it("returns none for other bodies", () => {
    expect(parseRegistryErrors("{}")).toEqual([]);
    expect(parseRegistryErrors("null")).toEqual([]);
    expect(parseRegistryErrors("<html>")).toEqual([]);
  });
});
