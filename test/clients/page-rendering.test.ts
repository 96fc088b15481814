import type { IncomingMessage } from "node:http";

import { describe, expect, it } from "vitest";

import { notFound } from "../../src/errors.js";
import { parseMountArguments } from "../../src/cli/mount.js";
import { folderInfo, StaticFolder, type FolderNode } from "../../src/tree/tree-node.js";
import { findChild } from "../../src/tree/unicode-names.js";
import { wantsHtmlView } from "../../src/webdav/html/browser-request.js";
import { renderJsonHtml } from "../../src/webdav/html/json-html.js";
import { formatSize } from "../../src/webdav/html/page-format.js";
import { isImageMetadataFile, repositoryBase } from "../../src/webdav/html/repository-links.js";

const HEX = "a".repeat(64);
const DIGEST = `sha256:${HEX}`;
const BASE = ["127.0.0.1:5000", "team", "app"];

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}

describe("wantsHtmlView", () => {
  const cases: [string, string, Record<string, string>, boolean][] = [
    ["browser navigation", "/a", { accept: "text/html,application/xhtml+xml,*/*;q=0.8" }, true],
    ["curl", "/a", { accept: "*/*" }, false],
    ["no Accept", "/a", {}, false],
    ["text/html with q=0", "/a", { accept: "text/html;q=0, */*" }, false],
    ["browser with Range", "/a", { accept: "text/html", range: "bytes=0-1" }, false],
    ["view=html without Accept", "/a?view=html", {}, true],
    ["view=raw from a browser", "/a?view=raw", { accept: "text/html" }, false],
  ];
  for (const [name, url, headers, expected] of cases) {
    it(name, () => {
      expect(wantsHtmlView(request(url, headers))).toBe(expected);
    });
  }
});

describe("repository paths", () => {
  it("base ends before _tags", () => {
    expect(repositoryBase([...BASE, "_tags", "v1", "manifest.json"])).toEqual(BASE);
  });

  it("base is undefined above a repository", () => {
    expect(repositoryBase(["127.0.0.1:5000", "team"])).toBeUndefined();
  });

  const metadata: [string[], boolean][] = [
    [["_tags", "v1", "manifest.json"], true],
    [["_tags", "v1", "linux-arm64-v8", "config.json"], true],
    [["_manifests", "sha256", HEX, "index.json"], true],
    [["_tags", "v1", "rootfs", "etc", "config.json"], false],
    [["_tags", "v1", "layers", "1-abc", "manifest.json"], false],
    [["_blobs", "sha256", HEX], false],
    [["_tags", "v1", "notes.json"], false],
  ];
  for (const [rest, expected] of metadata) {
    it(`${rest.join("/")} is ${expected ? "" : "not "}metadata`, () => {
      expect(isImageMetadataFile([...BASE, ...rest])).toBe(expected);
    });
  }
});

describe("renderJsonHtml", () => {
  const blobHref = `/127.0.0.1%3A5000/team/app/_blobs/sha256/${HEX}`;
  const manifestHref = `/127.0.0.1%3A5000/team/app/_manifests/sha256/${HEX}/`;

  it("config digest links the blob", () => {
    const html = renderJsonHtml({ config: { mediaType: "x", digest: DIGEST } }, BASE);
    expect(html).toContain(`<a href="${blobHref}">`);
  });

  it("index entry links the manifest folder", () => {
    const html = renderJsonHtml({ manifests: [{ mediaType: "x", digest: DIGEST }] }, BASE);
    expect(html).toContain(`<a href="${manifestHref}">`);
  });

  it("subject links the manifest folder", () => {
    const html = renderJsonHtml({ subject: { digest: DIGEST } }, BASE);
    expect(html).toContain(`<a href="${manifestHref}">`);
  });

  it("manifest media type links the folder", () => {
    const descriptor = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: DIGEST };
    expect(renderJsonHtml({ layers: [descriptor] }, BASE)).toContain(`<a href="${manifestHref}">`);
  });

  it("diff_ids get no link", () => {
    const html = renderJsonHtml({ rootfs: { diff_ids: [DIGEST] } }, BASE);
    expect(html).not.toContain("<a ");
  });

  it("history entries get anchors", () => {
    const html = renderJsonHtml({ history: [{ created_by: "a" }, { created_by: "b" }] }, BASE);
    expect(html).toContain('<span id="history-1">');
  });

  it("keys and strings are escaped", () => {
    const html = renderJsonHtml({ "<k>": "</pre><script>x</script>" }, BASE);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("</pre>");
    expect(html).toContain("&lt;k&gt;");
  });
});

describe("formatSize", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [10 * 1024 * 1024, "10 MiB"],
    [3 * 1024 ** 4, "3.0 TiB"],
  ];
  for (const [bytes, expected] of cases) {
    it(`${bytes} bytes`, () => {
      expect(formatSize(bytes)).toBe(expected);
    });
  }
});

describe("findChild", () => {
  const folderNamed = (name: string) => new StaticFolder(name, []);
  const precomposed = new StaticFolder("", [folderNamed("caf\u00e9"), folderNamed("plain")]);

  it("decomposed name finds precomposed", async () => {
    expect((await findChild(precomposed, "cafe\u0301"))?.info.name).toBe("caf\u00e9");
  });

  it("precomposed name finds decomposed", async () => {
    const decomposed = new StaticFolder("", [folderNamed("cafe\u0301")]);
    expect((await findChild(decomposed, "caf\u00e9"))?.info.name).toBe("cafe\u0301");
  });

  it("exact name wins over a normal form", async () => {
    const both = new StaticFolder("", [folderNamed("cafe\u0301"), folderNamed("caf\u00e9")]);
    expect((await findChild(both, "cafe\u0301"))?.info.name).toBe("cafe\u0301");
  });

  it("missing name stays undefined", async () => {
    expect(await findChild(precomposed, "na\u0308ive")).toBeUndefined();
  });

  it("a NOT_FOUND throw falls through to the next form", async () => {
    const throwing: FolderNode = {
      info: folderInfo(""),
      child: async (name) => {
        if (name === "caf\u00e9") return folderNamed(name);
        throw notFound(`not found: ${name}`);
      },
      children: async () => [],
    };
    expect((await findChild(throwing, "cafe\u0301"))?.info.name).toBe("caf\u00e9");
  });

  it("a missing name rethrows the first error", async () => {
    const throwing: FolderNode = {
      info: folderInfo(""),
      child: async (name) => {
        throw notFound(`not found: ${name}`);
      },
      children: async () => [],
    };
    await expect(findChild(throwing, "cafe\u0301")).rejects.toThrow("not found: cafe\u0301");
  });
});

describe("parseMountArguments", () => {
  it("adds a free loopback port", () => {
    expect(parseMountArguments(["/mnt", "--registry", "r.io"]).serveArgs).toEqual([
      "--listen",
      "127.0.0.1:0",
      "--registry",
      "r.io",
    ]);
  });

  it("keeps a given --listen", () => {
    const parsed = parseMountArguments(["/mnt", "--listen=127.0.0.1:9000"]);
    expect(parsed.serveArgs).toEqual(["--listen=127.0.0.1:9000"]);
  });

  it("takes --with out of the serve options", () => {
    const parsed = parseMountArguments(["/mnt", "--with", "davfs2", "--registry", "r.io"]);
    expect(parsed.client).toBe("davfs2");
    expect(parsed.serveArgs).toEqual(["--listen", "127.0.0.1:0", "--registry", "r.io"]);
  });

  it("rejects an unknown client", () => {
    expect(() => parseMountArguments(["/mnt", "--with=finder"])).toThrow(/rclone or davfs2/);
  });

  it("rejects a missing folder", () => {
    expect(() => parseMountArguments(["--registry", "r.io"])).toThrow(/needs a folder/);
  });
});
