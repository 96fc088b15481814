import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildSampleTree,
  rawRequest,
  runCurl,
  startShare,
  statusOf,
  type RunningShare,
} from "./share-fixture.js";

let share: RunningShare;

beforeAll(async () => {
  share = await startShare({ tree: buildSampleTree() });
});

afterAll(() => share.close());

const ALLOW = "OPTIONS, GET, HEAD, PROPFIND";

function request(method: string, path: string, headers: string[] = []): string {
  return [
    `${method} ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Connection: close",
    ...headers,
    "",
    "",
  ].join("\r\n");
}

async function expectServerAlive(): Promise<void> {
  const response = await fetch(`${share.origin}/typed.json`);
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

describe("request path guard", () => {
  const badPaths: Array<[string, string]> = [
    ["/%zz", "invalid percent-encoding"],
    ["/tricky/%zz/x", "invalid percent-encoding"],
    ["/abc%", "invalid percent-encoding"],
    ["/%00", "control character"],
    ["/a%0Ab", "control character"],
    ["/a%7Fb", "control character"],
    ["/a%2Fb", "encoded slash"],
    ["/a%2fb", "encoded slash"],
    ["/a\\b", "backslash"],
    ["/a%5Cb", "backslash"],
    ["/tricky/../typed.json", "dot segment"],
    ["/tricky/%2e%2e/typed.json", "dot segment"],
    ["/%2E%2E", "dot segment"],
    ["/%FF", "not valid UTF-8"],
    ["/%C3", "not valid UTF-8"],
    ["/%ED%A0%80", "not valid UTF-8"],
    ["/" + "a".repeat(4100), "longer than 4096 bytes"],
    ["/" + "a/".repeat(256), "more than 255 segments"],
    ["/" + "b".repeat(256), "longer than 255 bytes"],
    ["relative", "must be an absolute path"],
    ["/tricky/\u00fcn\u00ef", "must be an absolute path"],
  ];

  for (const [path, problem] of badPaths) {
    it(`${path.slice(0, 40)} is 400`, async () => {
      const raw = await rawRequest(share.port, request("GET", path));
      expect(statusOf(raw)).toBe(400);
      expect(raw).toMatch(/Content-Type: text\/plain/i);
      expect(raw).toContain(problem);
    });
  }

  it("server still answers after GET /%zz", async () => {
    await rawRequest(share.port, request("GET", "/%zz"));
    await rawRequest(share.port, request("PROPFIND", "/%zz", ["Depth: 1"]));
    await expectServerAlive();
  });

  it("curl GET /%zz is 400", async () => {
    const result = await runCurl(["--include", "--path-as-is", `${share.origin}/%zz`]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toMatch(/^HTTP\/1\.1 400/);
  });

  it("PROPFIND with a bad path is 400", async () => {
    const raw = await rawRequest(share.port, request("PROPFIND", "/x/%2e%2e/", ["Depth: 0"]));
    expect(statusOf(raw)).toBe(400);
  });

  it("query strings and double slashes are ignored", async () => {
    const raw = await rawRequest(share.port, request("GET", "//typed.json?x=%zz"));
    expect(statusOf(raw)).toBe(200);
  });

  it("absolute-form target is served", async () => {
    const raw = await rawRequest(
      share.port,
      request("GET", `http://127.0.0.1:${share.port}/typed.json`),
    );
    expect(statusOf(raw)).toBe(200);
  });
});

describe("request body guard", () => {
  it("huge declared PROPFIND body is 413 without allocating it", async () => {
    const before = process.memoryUsage().arrayBuffers;
    const raws = await Promise.all(
      Array.from({ length: 8 }, () =>
        rawRequest(
          share.port,
          request("PROPFIND", "/", ["Depth: 1", "Content-Length: 2000000000"]),
          Buffer.alloc(32 * 1024, 0x41),
        ),
      ),
    );
    const grown = process.memoryUsage().arrayBuffers - before;

    for (const raw of raws) {
      expect(statusOf(raw)).toBe(413);
      expect(raw).toContain("limit is 65536 bytes");
      expect(raw).toMatch(/Connection: close/i);
    }
    expect(grown).toBeLessThan(32 * 1024 * 1024);
    await expectServerAlive();
  });

  it("chunked PROPFIND body over the limit is 413", async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const chunked = Buffer.concat(
      Array.from({ length: 6 }, () =>
        Buffer.concat([Buffer.from("4000\r\n"), chunk, Buffer.from("\r\n")]),
      ),
    );
    const raw = await rawRequest(
      share.port,
      request("PROPFIND", "/", ["Depth: 0", "Transfer-Encoding: chunked"]),
      chunked,
    );
    expect(statusOf(raw)).toBe(413);
    expect(raw).toContain("exceeds the limit while being read");
    await expectServerAlive();
  });

  it("chunked PROPFIND body under the limit is read", async () => {
    const xml =
      '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getcontentlength/></prop></propfind>';
    const body = `${Buffer.byteLength(xml).toString(16)}\r\n${xml}\r\n0\r\n\r\n`;
    const raw = await rawRequest(
      share.port,
      request("PROPFIND", "/typed.json", ["Depth: 0", "Transfer-Encoding: chunked"]),
      Buffer.from(body),
    );
    expect(statusOf(raw)).toBe(207);
    expect(raw).toContain("getcontentlength>8<");
    expect(raw).not.toContain("getlastmodified");
  });

  it("GET with a declared body is 413", async () => {
    const raw = await rawRequest(
      share.port,
      request("GET", "/typed.json", ["Content-Length: 5000"]),
      Buffer.alloc(5000),
    );
    expect(statusOf(raw)).toBe(413);
  });

  it("GET with a small body is served", async () => {
    const raw = await rawRequest(
      share.port,
      request("GET", "/typed.json", ["Content-Length: 5"]),
      Buffer.from("hello"),
    );
    expect(statusOf(raw)).toBe(200);
  });

  it("chunked GET body over the limit is 413", async () => {
    const raw = await rawRequest(
      share.port,
      request("GET", "/typed.json", ["Transfer-Encoding: chunked"]),
      Buffer.concat([Buffer.from("800\r\n"), Buffer.alloc(0x800, 0x61), Buffer.from("\r\n")]),
    );
    expect(statusOf(raw)).toBe(413);
  });

  it("Expect 100-continue with a huge body gets 413 before any upload", async () => {
    const raw = await rawRequest(
      share.port,
      request("PROPFIND", "/", ["Depth: 1", "Content-Length: 999999999", "Expect: 100-continue"]),
    );
    expect(statusOf(raw)).toBe(413);
    expect(raw).not.toContain("100 Continue");
  });

  it("Expect 100-continue with a small body gets Continue", async () => {
    const result = await runCurl([
      "--include",
      "--request",
      "PROPFIND",
      "--header",
      "Depth: 0",
      "--header",
      "Expect: 100-continue",
      "--data-binary",
      '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>',
      `${share.origin}/typed.json`,
    ]);
    expect(result.stdout.toString()).toContain("100 Continue");
    expect(result.stdout.toString()).toContain("207 Multi-Status");
  });
});

describe("methods", () => {
  it("OPTIONS answers DAV 1 on any path", async () => {
    for (const path of ["/", "/tricky/a%23b", "/does/not/exist"]) {
      const response = await fetch(`${share.origin}${path}`, { method: "OPTIONS" });
      expect(response.status, path).toBe(200);
      expect(response.headers.get("dav")).toBe("1");
      expect(response.headers.get("allow")).toBe(ALLOW);
      expect(response.headers.get("ms-author-via")).toBe("DAV");
    }
  });

  it("OPTIONS * answers too", async () => {
    const raw = await rawRequest(share.port, request("OPTIONS", "*"));
    expect(statusOf(raw)).toBe(200);
    expect(raw).toContain("DAV: 1");
  });

  const writeMethods = [
    "PUT",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
    "POST",
    "PATCH",
    "TRACE",
    "SEARCH",
    "REPORT",
    "ACL",
  ];
  for (const method of writeMethods) {
    it(`${method} is 405 with Allow`, async () => {
      const raw = await rawRequest(
        share.port,
        request(method, "/typed.json", ["Content-Length: 4", "Destination: /copy.json"]),
        Buffer.from("data"),
      );
      expect(statusOf(raw)).toBe(405);
      expect(raw).toContain(`Allow: ${ALLOW}`);
      expect(raw).toContain("read-only");
    });
  }

  for (const method of ["BREW", "FOOBAR", "propfind"]) {
    it(`unknown method ${method} is 405 with Allow`, async () => {
      const raw = await rawRequest(share.port, request(method, "/"));
      expect(statusOf(raw)).toBe(405);
      expect(raw).toContain(`Allow: ${ALLOW}`);
    });
  }

  it("CONNECT is 405", async () => {
    const raw = await rawRequest(
      share.port,
      "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    );
    expect(statusOf(raw)).toBe(405);
  });

  it("PUT with a large upload is 405 and the server lives", async () => {
    const result = await runCurl([
      "--include",
      "--upload-file",
      "-",
      "--header",
      "Expect: 100-continue",
      `${share.origin}/upload.bin`,
    ]);
    expect(result.stdout.toString()).toMatch(/HTTP\/1\.1 405/);
    await expectServerAlive();
  });

  it("write methods via fetch are 405", async () => {
    for (const method of ["PUT", "DELETE", "POST", "PATCH"]) {
      const response = await fetch(`${share.origin}/typed.json`, {
        method,
        body: method === "DELETE" ? undefined : "x",
      });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe(ALLOW);
      expect(await response.text()).toContain("the share is read-only");
    }
  });
});
