import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFaultProxy, type FaultProxy } from "../harness/fault-proxy.js";
import { startRegdav, type RegdavProcess } from "../harness/regdav-process.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import {
  bodyOf,
  bodyText,
  encodePath,
  fetchOutcome,
  httpRequest,
  portOf,
  pushLayerImage,
  rawRequest,
  type PushedFileImage,
  type RawResponse,
} from "./fault-fixtures.js";

const ALLOW = "OPTIONS, GET, HEAD, PROPFIND";
const CLIENTS = 50;

describe("hostile requests", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let regdav: RegdavProcess;
  let port: number;
  let files: PushedFileImage;
  let crowded: PushedFileImage;
  const crowdedContents: Buffer[] = [];

  const send = (request: string | Buffer, timeoutMs?: number) =>
    rawRequest(port, request, timeoutMs);
  const sharePath = (image: PushedFileImage, path: string) =>
    "/" + encodePath(`${proxy.host}/${image.repository}/_tags/v1/${path}`);
  const headerOf = (response: RawResponse, name: string) =>
    new RegExp(`^${name}: (.*)$`, "im").exec(response.text.split("\r\n\r\n")[0]!)?.[1];
  const expectAlive = async () => {
    const response = await send(httpRequest("GET", "/"));
    expect(response.status, "GET / after the attack").toBe(200);
  };

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.host);
    files = await pushLayerImage(registry.host, "hostile/files", [
      { type: "file", path: "etc/passwd", content: "root:x:0:0:image root:/root:/bin/sh\n" },
      { type: "file", path: "readme.txt", content: "hello\n" },
    ]);
    for (let i = 0; i < CLIENTS; i++) crowdedContents.push(randomBytes(20_000 + i));
    const entries = crowdedContents.map((content, i) => ({
      type: "file" as const,
      path: `files/file-${i}.bin`,
      content,
    }));
    crowded = await pushLayerImage(registry.host, "hostile/crowded", entries);
    regdav = await startRegdav(["--registry", proxy.host]);
    port = portOf(regdav.url);
  });

  afterAll(async () => {
    await regdav?.stop();
    await proxy?.close();
    await registry?.stop();
  });

  describe("request paths", () => {
    const cases: Array<[name: string, target: string, status: number, body: RegExp]> = [
      ["dot-dot segment", "/a/../etc/passwd", 400, /dot segment/],
      ["encoded dot-dot", "/a/%2e%2e/etc/passwd", 400, /dot segment/],
      ["upper-case encoded dot-dot", "/%2E%2E/%2E%2E/etc/passwd", 400, /dot segment/],
      ["encoded slash in a segment", "/a%2Fb", 400, /encoded slash/],
      ["encoded slash with dots", "/..%2F..%2Fetc%2Fpasswd", 400, /encoded slash/],
      ["encoded NUL", "/readme.txt%00.jpg", 400, /control character/],
      ["raw backslash", "/a\\..\\b", 400, /backslash/],
      ["encoded backslash", "/..%5C..%5Cetc", 400, /backslash/],
      ["invalid percent-encoding", "/%zz", 400, /invalid percent-encoding/],
      ["truncated percent-encoding", "/abc%2", 400, /invalid percent-encoding/],
      ["invalid UTF-8", "/%FF%FE", 400, /not valid UTF-8/],
      ["overlong path", "/" + "a/".repeat(2100), 400, /longer than 4096 bytes/],
      ["overlong segment", "/" + "b".repeat(256), 400, /longer than 255 bytes/],
      ["too many segments", "/" + "c/".repeat(256), 400, /more than 255 segments/],
      ["request line over the header limit", "/" + "d".repeat(20_000), 431, /too large/],
    ];

    for (const [name, target, status, body] of cases) {
      it(`${name} is ${status}`, async () => {
        const response = await send(httpRequest("GET", target));
        expect(response.status).toBe(status);
        expect(response.body).toMatch(body);
        await expectAlive();
      });
    }

    it("PROPFIND with a bad path is 400 too", async () => {
      const response = await send(httpRequest("PROPFIND", "/a/%2e%2e/b", ["Depth: 0"]));
      expect(response.status).toBe(400);
      expect(response.body).toMatch(/dot segment/);
    });

    it("invalid digest reaches no registry", async () => {
      const target = "/" + encodePath(`${proxy.host}/${files.repository}/_blobs/sha256:zz..`);
      const response = await send(httpRequest("GET", target));
      expect([400, 404]).toContain(response.status);
      expect(proxy.requests.filter((entry) => entry.url.includes("zz"))).toEqual([]);
    });

    it("invalid tag reaches no registry", async () => {
      const target = "/" + encodePath(`${proxy.host}/${files.repository}/_tags/a;b/manifest.json`);
      const response = await send(httpRequest("GET", target));
      expect([400, 404]).toContain(response.status);
      expect(proxy.requests.filter((entry) => entry.url.includes("a;b"))).toEqual([]);
    });
  });

  describe("PROPFIND", () => {
    const xml = (inner: string) =>
      `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">${inner}</D:propfind>`;
    /** A PROPFIND body without an XML declaration that asks for the entity `e` as displayname. */
    const propfindOfEntity =
      '<D:propfind xmlns:D="DAV:">' +
      "<D:prop><D:displayname>&e;</D:displayname></D:prop>" +
      "</D:propfind>";
    const hrefsOf = (response: RawResponse) =>
      [...response.body.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((match) => match[1]!);

    it("without Depth lists one level and opens no layer", async () => {
      const folder = sharePath(files, "");
      const response = await send(httpRequest("PROPFIND", folder));
      expect(response.status).toBe(207);

      const below = hrefsOf(response).map((href) => href.slice(folder.length));
      expect(below.length).toBeGreaterThan(1);
      // The folder itself, then children only: no href goes below a child.
      for (const rest of below) expect(rest, rest).toMatch(/^([^/]+\/?)?$/);
      expect(proxy.count(/\/blobs\//)).toBe(0);
    });

    it("Depth infinity is 403 propfind-finite-depth", async () => {
      const before = proxy.requests.length;
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: infinity"]));
      expect(response.status).toBe(403);
      expect(headerOf(response, "content-type")).toMatch(/^application\/xml/);
      expect(response.body).toContain(
        '<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>',
      );
      expect(proxy.requests.length).toBe(before);
    });

    it("Depth 2 is 400", async () => {
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 2"]));
      expect(response.status).toBe(400);
      expect(response.body).toMatch(/invalid Depth header/);
    });

    const malformedBodies: Array<[name: string, body: string]> = [
      ["unclosed XML", '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'],
      ["text that is not XML", "hello, this is not XML"],
      ["XML of another vocabulary", '<?xml version="1.0"?><html><body/></html>'],
      ["binary bytes", randomBytes(2_000).toString("latin1")],
    ];
    for (const [name, body] of malformedBodies) {
      it(`${name} gets a 400`, async () => {
        const response = await send(httpRequest("PROPFIND", "/", ["Depth: 0"], body));
        expect(response.status).toBe(400);
        expect(response.body).toMatch(/^invalid PROPFIND body: /);
        await expectAlive();
      });
    }

    it("entity expansion is not performed", async () => {
      const entities = [
        '<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">',
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">',
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">',
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">',
        '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">',
      ].join("");
      const body = `<?xml version="1.0"?><!DOCTYPE D:propfind [${entities}]>` + propfindOfEntity;
      const started = Date.now();
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 0"], body));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(response.status).toBe(400);
      expect(response.body).toMatch(/contains a DOCTYPE, which is not accepted/);
      expect(response.body).not.toContain("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
      expect(response.text.length).toBeLessThan(10_000);
    });

    it("external entity is not read", async () => {
      const body =
        '<?xml version="1.0"?><!DOCTYPE D:propfind [<!ENTITY e SYSTEM "file:///etc/passwd">]>' +
        propfindOfEntity;
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 0"], body));
      expect(response.status).toBe(400);
      expect(response.body).toMatch(/contains a DOCTYPE, which is not accepted/);
      expect(response.body).not.toMatch(/root:.*:0:0:/);
    });

    it("many properties are 400", async () => {
      const body = xml(`<D:prop>${"<D:getetag/>".repeat(200)}</D:prop>`);
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 1"], body));
      expect(response.status).toBe(400);
      expect(response.body).toMatch(/202 XML elements, more than the 128 allowed/);
    });

    it("usual property list is served", async () => {
      const props = ["displayname", "getcontentlength", "getlastmodified", "resourcetype"];
      const body = xml(`<D:prop>${props.map((name) => `<D:${name}/>`).join("")}</D:prop>`);
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 1"], body));
      expect(response.status).toBe(207);
    });

    it("body over 64 KiB is 413", async () => {
      const body = xml(`<D:prop><D:getetag/></D:prop><!-- ${"x".repeat(70_000)} -->`);
      const response = await send(httpRequest("PROPFIND", "/", ["Depth: 0"], body));
      expect(response.status).toBe(413);
      expect(response.body).toMatch(/request body too large/);
      await expectAlive();
    });

    it("chunked body over 64 KiB is 413", async () => {
      const chunk = "x".repeat(8_000);
      const chunks = Array.from(
        { length: 10 },
        () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
      );
      const head = [
        "PROPFIND / HTTP/1.1",
        "Host: 127.0.0.1",
        "Depth: 0",
        "Transfer-Encoding: chunked",
        "",
        "",
      ].join("\r\n");
      const response = await send(head + chunks.join("") + "0\r\n\r\n");
      expect(response.status).toBe(413);
      expect(response.body).toMatch(/exceeds the limit while being read/);
      await expectAlive();
    });

    it("huge declared Content-Length is 413 before any body byte", async () => {
      const head = ["PROPFIND / HTTP/1.1", "Host: 127.0.0.1", "Depth: 0"];
      head.push("Content-Length: 1000000000000000", "", "");
      const started = Date.now();
      // No body byte is ever sent: the response must come from the headers alone.
      const response = await send(head.join("\r\n"), 5_000);
      expect(response.status).toBe(413);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.body).toMatch(/declares 1000000000000000 bytes/);
      expect(headerOf(response, "connection")).toMatch(/close/i);
    });

    it("GET with a huge declared body is 413", async () => {
      const head = ["GET / HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 99999999999", "", ""];
      const response = await send(head.join("\r\n"), 5_000);
      expect(response.status).toBe(413);
    });
  });

  describe("write methods", () => {
    const writes: Array<[method: string, headers: string[], body: string]> = [
      ["PUT", ["Content-Type: text/plain"], "new content\n"],
      ["DELETE", [], ""],
      ["MKCOL", [], ""],
      ["COPY", ["Destination: /copy"], ""],
      ["MOVE", ["Destination: /moved"], ""],
      [
        "PROPPATCH",
        ["Content-Type: application/xml"],
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"/>',
      ],
      [
        "LOCK",
        ["Content-Type: application/xml", "Timeout: Second-60"],
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"/>',
      ],
      ["UNLOCK", ["Lock-Token: <opaquelocktoken:1>"], ""],
      ["POST", ["Content-Type: application/x-www-form-urlencoded"], "a=b"],
    ];

    for (const [method, headers, body] of writes) {
      it(`${method} is 405 with Allow`, async () => {
        const target = sharePath(files, "rootfs/readme.txt");
        const response = await send(httpRequest(method, target, headers, body));
        expect(response.status).toBe(405);
        expect(headerOf(response, "allow")).toBe(ALLOW);
        expect(response.body).toContain(`the share is read-only: ${method} is not allowed`);
      });
    }

    it("PUT of a huge declared body is 405 at once", async () => {
      const head = ["PUT /x HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 1000000000000", "", ""];
      const started = Date.now();
      const response = await send(head.join("\r\n"), 5_000);
      expect(response.status).toBe(405);
      expect(Date.now() - started).toBeLessThan(3_000);
      await expectAlive();
    });

    it("image file is unchanged after the writes", async () => {
      const outcome = await fetchOutcome(
        `${regdav.url}${sharePath(files, "rootfs/readme.txt").slice(1)}`,
      );
      expect(bodyText(outcome)).toBe("hello\n");
    });
  });

  describe("load", () => {
    it(`${CLIENTS} clients of one cold layer make one download`, async () => {
      const blobPath = new RegExp(`/blobs/${crowded.layer.digest}$`);
      expect(proxy.count(blobPath)).toBe(0);

      const reads = crowdedContents.map(async (content, i) => {
        const url = `${regdav.url}${sharePath(crowded, `rootfs/files/file-${i}.bin`).slice(1)}`;
        const outcome = await fetchOutcome(url);
        return outcome.status === 200 && bodyOf(outcome)?.equals(content) === true;
      });
      const results = await Promise.all(reads);
      expect(results.filter((ok) => !ok).length).toBe(0);
      expect(proxy.count(blobPath, "GET")).toBe(1);
    });

    it("200 idle connections leave room for a request", async () => {
      const sockets = await openConnections(port, 200, "");
      try {
        const started = Date.now();
        await expectAlive();
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });

    it("200 connections with unfinished headers leave room too", async () => {
      const partial = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      const sockets = await openConnections(port, 200, partial);
      try {
        const started = Date.now();
        await expectAlive();
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  });
});

/** Opens `count` connections that send `text` and then nothing more. */
async function openConnections(port: number, count: number, text: string): Promise<Socket[]> {
  const opening = Array.from(
    { length: count },
    () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => {
          if (text !== "") socket.write(text);
          resolve(socket);
        });
        socket.on("error", reject);
      }),
  );
  return Promise.all(opening);
}
