import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  APP_REPOSITORY,
  HOSTILE_ENV,
  HOSTILE_HISTORY,
  MULTI_REPOSITORY,
  OS_RELEASE,
  startClientFixture,
  TRICKY_NAME,
  type ClientFixture,
} from "./client-fixture.js";

/** The Accept header Chromium sends when it navigates to a page. */
const BROWSER_ACCEPT =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

let fixture: ClientFixture;

beforeAll(async () => {
  fixture = await startClientFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

const asBrowser = { Accept: BROWSER_ACCEPT };

/** Returns the href a page uses for a path: each segment percent-encoded, `:` included. */
function hrefOf(path: string): string {
  return "/" + [fixture.registryName, ...path.split("/")].map(encodeURIComponent).join("/");
}

describe("folder page", () => {
  it("image folder has the header", async () => {
    const { response, body } = await get(fixture.appUrl, asBrowser);
    const html = body.toString();
    expect(response.status).toBe(200);
    expect(html).toContain(`<code>${fixture.registryName}/${APP_REPOSITORY}:v1</code>`);
    expect(html).toContain(`<code>${fixture.app.digest}</code>`);
    expect(html).toContain("<dt>Platform</dt><dd>linux/amd64</dd>");
    expect(html).toContain("<dt>Layers</dt><dd>2</dd>");
    expect(html).toContain("<code>[&quot;/bin/sh&quot;,&quot;-c&quot;]</code>");
    expect(html).toContain("<code>/srv</code>");
  });

  it("image header escapes config text", async () => {
    const html = (await get(fixture.appUrl, asBrowser)).body.toString();
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("GREETING=&lt;script&gt;alert(&#39;env&#39;)&lt;/script&gt;");
    expect(html).toContain("# &lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(HOSTILE_ENV).toContain("<script>");
  });

  it("layers link their history lines", async () => {
    const html = (await get(fixture.appUrl, asBrowser)).body.toString();
    const config = `${hrefOf("clients/app/_tags/v1/config.json")}?view=html`;
    expect(html).toContain(`<a href="${config}#history-0">`);
    // The ENV entry at position 1 made no layer, so the second layer is entry 2.
    expect(html).toContain(`<a href="${config}#history-2"><code>COPY app.conf hello /</code></a>`);
    expect(html).toMatch(/href="\/[^"]+\/_tags\/v1\/layers\/1-[0-9a-f]{12}\/"/);
  });

  it("total size adds config and layers", async () => {
    const html = (await get(fixture.appUrl, asBrowser)).body.toString();
    const total = fixture.app.config.size + fixture.app.layers.reduce((sum, l) => sum + l.size, 0);
    expect(html).toContain(`<span title="${total} bytes">`);
  });

  it("index folder lists its platforms", async () => {
    const url = `${fixture.regdav.url}${fixture.registryName}/${MULTI_REPOSITORY}/_tags/latest/`;
    const html = (await get(url, asBrowser)).body.toString();
    expect(html).toContain("Multi-platform index");
    expect(html).toContain("linux/arm64/v8");
    expect(html).toContain("This folder also shows linux/amd64");
    const [amd64] = fixture.multi.platformDigests;
    expect(html).toContain(`/_manifests/sha256/${amd64!.slice("sha256:".length)}/`);
  });

  it("listing escapes tricky names and links them", async () => {
    const html = (await get(`${fixture.appUrl}rootfs/etc/`, asBrowser)).body.toString();
    const href = hrefOf(`clients/app/_tags/v1/rootfs/etc/${TRICKY_NAME}`);
    expect(html).toContain(`<a href="${href.replace(/'/g, "&#39;")}">`);
    expect(html).toContain("&lt;b&gt;&quot;q&quot;&amp;amp;&#39;x.txt</a>");
    expect(html).not.toContain("<b>");
  });

  it("folder pages allow only their own script", async () => {
    const { response } = await get(fixture.appUrl, asBrowser);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(policy).not.toContain("unsafe-inline");
  });

  it("curl gets the listing without a header", async () => {
    const { response, body } = await get(fixture.appUrl);
    expect(response.status).toBe(200);
    expect(body.toString()).toContain("manifest.json");
    expect(body.toString()).not.toContain('<section class="image"');
  });

  it("favicon.ico is 404 without a registry lookup", async () => {
    const { response } = await get(`${fixture.regdav.url}favicon.ico`, asBrowser);
    expect(response.status).toBe(404);
  });
});

describe("JSON pages", () => {
  it("manifest.json is pretty with digest links", async () => {
    const { response, body } = await get(`${fixture.appUrl}manifest.json`, asBrowser);
    const html = body.toString();
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const configHex = fixture.app.config.digest.slice("sha256:".length);
    expect(html).toContain(`<a href="${hrefOf(`clients/app/_blobs/sha256/${configHex}`)}">`);
    expect(html).toContain('<span class="key">&quot;schemaVersion&quot;</span>: ');
  });

  it("index.json links manifest folders", async () => {
    const tag = `${fixture.registryName}/${MULTI_REPOSITORY}/_tags/latest`;
    const url = `${fixture.regdav.url}${tag}/index.json`;
    const html = (await get(url, asBrowser)).body.toString();
    for (const digest of fixture.multi.platformDigests) {
      const hex = digest.slice("sha256:".length);
      expect(html).toContain(`<a href="${hrefOf(`clients/multi/_manifests/sha256/${hex}`)}/">`);
    }
  });

  it("config.json anchors history entries", async () => {
    const html = (await get(`${fixture.appUrl}config.json`, asBrowser)).body.toString();
    expect(html).toContain('<span id="history-0">');
    expect(html).toContain('<span id="history-2">');
    expect(html).not.toContain(HOSTILE_HISTORY);
    expect(html).not.toContain("<script>alert");
  });

  it("view=html works without Accept", async () => {
    const { response } = await get(`${fixture.appUrl}manifest.json?view=html`);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });
});

describe("raw bytes", () => {
  it("curl gets the exact manifest bytes", async () => {
    const manifest = await fetch(`${fixture.registry.url}/v2/${APP_REPOSITORY}/manifests/v1`, {
      headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    const expected = Buffer.from(await manifest.arrayBuffer());
    const { response, body } = await get(`${fixture.appUrl}manifest.json`);
    expect(body.equals(expected)).toBe(true);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("vary")).toBe("Accept");
  });

  it("a Range request gets bytes, even from a browser", async () => {
    const { response, body } = await get(`${fixture.appUrl}config.json`, {
      ...asBrowser,
      Range: "bytes=0-0",
    });
    expect(response.status).toBe(206);
    expect(body.toString()).toBe("{");
  });

  it("view=raw gets bytes in a browser", async () => {
    const { body } = await get(`${fixture.appUrl}config.json?view=raw`, asBrowser);
    expect(body.equals(fixture.app.config.bytes)).toBe(true);
  });

  it("rootfs file is bytes without text/html", async () => {
    const { response, body } = await get(`${fixture.appUrl}rootfs/etc/os-release`);
    expect(body.toString()).toBe(OS_RELEASE);
    expect(response.headers.get("content-security-policy")).toBe("sandbox");
  });

  it("rootfs text file is a page in a browser", async () => {
    const { response, body } = await get(`${fixture.appUrl}rootfs/etc/os-release`, asBrowser);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(body.toString()).toContain("NAME=&quot;regdav test&quot;");
  });

  it("layer blob stays bytes in a browser", async () => {
    const listing = (await get(`${fixture.appUrl}layers/`)).body.toString();
    const name = /href="[^"]*\/(1-[0-9a-f]{12}\.tar\.gz)"/.exec(listing)?.[1];
    expect(name).toBeDefined();
    const { response, body } = await get(`${fixture.appUrl}layers/${name}`, asBrowser);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(body.equals(fixture.app.layers[0]!.bytes)).toBe(true);
  });
});
