import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildSampleTree,
  parseMultistatus,
  propfind,
  REGISTRY_FAILURE,
  startShare,
  TRICKY_NAMES,
  type RunningShare,
} from "./share-fixture.js";
import type { MemoryTree } from "./memory-tree.js";

let share: RunningShare;
let tree: MemoryTree;

beforeAll(async () => {
  tree = buildSampleTree();
  share = await startShare({ tree });
});

afterAll(() => share.close());

/** Returns the decoded path segments of an href, checking that it is a valid URL path. */
function segmentsOf(href: string): string[] {
  expect(href.startsWith("/")).toBe(true);
  expect(href).not.toMatch(/[#? "<>&\u0080-\uffff]/);
  const url = new URL(href, share.origin);
  expect(url.pathname).toBe(href.replace(/\/$/, "") === "" ? "/" : href);
  return href
    .split("/")
    .filter((part) => part !== "")
    .map(decodeURIComponent);
}

describe("PROPFIND", () => {
  it("depth 1 lists tricky names with round-tripping hrefs", async () => {
    const response = await propfind(`${share.origin}/tricky/`, "1");
    expect(response.status).toBe(207);
    expect(response.headers.get("dav")).toBe("1");
    expect(response.headers.get("content-type")).toMatch(/^application\/xml/);

    const entries = parseMultistatus(await response.text());
    const self = entries.find((entry) => entry.href === "/tricky/");
    expect(self?.props["resourcetype"]).toBe("collection");

    const children = entries.filter((entry) => entry !== self);
    const names = children.map((entry) => segmentsOf(entry.href));
    for (const name of TRICKY_NAMES) {
      expect(names).toContainEqual(["tricky", name]);
    }
    expect(names).toContainEqual(["tricky", "sub folder#1"]);
    expect(children).toHaveLength(TRICKY_NAMES.length + 1);
  });

  it("depth 1 gives properties of each child", async () => {
    const entries = parseMultistatus(await (await propfind(`${share.origin}/tricky/`, "1")).text());
    for (const name of TRICKY_NAMES) {
      const entry = entries.find(
        (candidate) => candidate.href === `/tricky/${encodeURIComponent(name)}`,
      );
      expect(entry, name).toBeDefined();
      expect(entry?.props["displayname"]).toBe(name);
      expect(entry?.props["getcontentlength"]).toBe(String(Buffer.byteLength(name)));
      expect(entry?.props["getcontenttype"]).toBe("application/octet-stream");
      expect(entry?.props["getlastmodified"]).toBe("Mon, 06 May 2024 07:08:09 GMT");
      expect(entry?.props["getetag"]).toMatch(/^"[^"]+"$/);
      expect(entry?.props["resourcetype"]).toBeUndefined();
    }
    const folder = entries.find((candidate) => candidate.href === "/tricky/sub%20folder%231/");
    expect(folder?.props["resourcetype"]).toBe("collection");
  });

  it("depth 0 describes only the target", async () => {
    const response = await propfind(`${share.origin}/tricky`, "0");
    expect(response.status).toBe(207);
    const entries = parseMultistatus(await response.text());
    expect(entries.map((entry) => entry.href)).toEqual(["/tricky/"]);
  });

  it("depth 0 on a file with tricky name", async () => {
    const response = await propfind(
      `${share.origin}/tricky/${encodeURIComponent("<tag>&amp")}`,
      "0",
    );
    expect(response.status).toBe(207);
    const entries = parseMultistatus(await response.text());
    expect(entries).toHaveLength(1);
    expect(segmentsOf(entries[0]?.href ?? "")).toEqual(["tricky", "<tag>&amp"]);
  });

  it("depth 0 round-trips every tricky name", async () => {
    for (const name of TRICKY_NAMES) {
      const response = await propfind(`${share.origin}/tricky/${encodeURIComponent(name)}`, "0");
      expect(response.status, name).toBe(207);
      const entries = parseMultistatus(await response.text());
      expect(entries, name).toHaveLength(1);
      expect(segmentsOf(entries[0]?.href ?? ""), name).toEqual(["tricky", name]);
      expect(entries[0]?.props["displayname"], name).toBe(name);
    }
  });

  it("missing depth is treated as 1", async () => {
    const response = await propfind(`${share.origin}/`);
    expect(response.status).toBe(207);
    const hrefs = parseMultistatus(await response.text()).map((entry) => entry.href);
    expect(hrefs).toContain("/");
    expect(hrefs).toContain("/tricky/");
    expect(hrefs).not.toContain("/tricky/a%23b");
  });

  it("depth infinity is 403 propfind-finite-depth", async () => {
    const response = await propfind(`${share.origin}/`, "infinity");
    expect(response.status).toBe(403);
    const body = await response.text();
    expect(body).toContain('<D:error xmlns:D="DAV:">');
    expect(body).toContain("<D:propfind-finite-depth/>");
  });

  it("other depth values are 400", async () => {
    for (const depth of ["2", "-1", "one", "0, 1"]) {
      const response = await propfind(`${share.origin}/`, depth);
      expect(response.status, depth).toBe(400);
      expect(await response.text()).toContain("invalid Depth header");
    }
  });

  it("folder hrefs end with a slash", async () => {
    const entries = parseMultistatus(await (await propfind(`${share.origin}/`, "1")).text());
    for (const entry of entries) {
      const isFolder = entry.props["resourcetype"] === "collection";
      expect(entry.href.endsWith("/"), entry.href).toBe(isFolder);
    }
  });

  it("leaves out names a request cannot contain", async () => {
    const entries = parseMultistatus(
      await (await propfind(`${share.origin}/unservable/`, "1")).text(),
    );
    expect(entries.map((entry) => entry.href).sort()).toEqual([
      "/unservable/",
      "/unservable/plain.txt",
    ]);
  });

  it("named property request returns those properties", async () => {
    const body =
      '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getcontentlength/><d:nosuchprop/></d:prop></d:propfind>';
    const response = await propfind(`${share.origin}/typed.json`, "0", { body });
    expect(response.status).toBe(207);
    const text = await response.text();
    expect(text).toContain("<D:getcontentlength>8</D:getcontentlength>");
    expect(text).not.toContain("getlastmodified");
    expect(text).toContain("404");
  });

  it("malformed bodies are 400", async () => {
    for (const body of [
      "<not xml",
      '{"json": true}',
      "<propfind xmlns='DAV:'><prop>text</prop></propfind>",
      "\u0000\u0001",
    ]) {
      const response = await propfind(`${share.origin}/typed.json`, "0", { body });
      expect(response.status, body).toBe(400);
      expect(await response.text(), body).toMatch(/^invalid PROPFIND body: /);
    }
    expect((await propfind(`${share.origin}/`, "0")).status).toBe(207);
  });

  it("media type comes from the node", async () => {
    const entries = parseMultistatus(
      await (await propfind(`${share.origin}/typed.json`, "0")).text(),
    );
    expect(entries[0]?.props["getcontenttype"]).toBe("application/json");
  });

  it("missing path is 404 with a message", async () => {
    const response = await propfind(`${share.origin}/no/such/thing`, "0");
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("no such file or folder: /no/such/thing");
  });

  it("registry failure on listing is 502 with its message", async () => {
    const response = await propfind(`${share.origin}/registry-down/`, "1");
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect((await response.text()).trim()).toBe(REGISTRY_FAILURE);
  });

  it("registry failure on stat is 502 with its message", async () => {
    const response = await propfind(`${share.origin}/stat-fails.bin`, "0");
    expect(response.status).toBe(502);
    expect((await response.text()).trim()).toBe(REGISTRY_FAILURE);
  });

  it("depth 0 on a failing folder does not list it", async () => {
    const response = await propfind(`${share.origin}/registry-down/`, "0");
    expect(response.status).toBe(207);
  });

  it("trailing slash on a file is 404", async () => {
    const response = await propfind(`${share.origin}/typed.json/`, "0");
    expect(response.status).toBe(404);
  });

  it("concurrent requests keep their own results", async () => {
    const targets = ["/tricky/", "/unservable/", "/tricky/sub%20folder%231/", "/"];
    const responses = await Promise.all(
      Array.from({ length: 24 }, (_, index) => {
        const target = targets[index % targets.length] ?? "/";
        return propfind(`${share.origin}${target}`, "1").then(async (response) => ({
          target,
          entries: parseMultistatus(await response.text()),
        }));
      }),
    );
    for (const { target, entries } of responses) {
      expect(entries[0]?.href, target).toBe(target);
      for (const entry of entries.slice(1)) {
        expect(entry.href.startsWith(target), `${entry.href} under ${target}`).toBe(true);
      }
    }
  });

  it("depth 1 makes one stat and one list", async () => {
    const before = { ...tree.calls };
    await (await propfind(`${share.origin}/tricky/`, "1")).text();
    expect(tree.calls.list - before.list).toBe(1);
    expect(tree.calls.stat - before.stat).toBe(1);
  });
});
