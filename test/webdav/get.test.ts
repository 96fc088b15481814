import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Of } from "./memory-tree.js";
import {
  BROKEN_AFTER,
  buildSampleTree,
  RANDOM_BYTES,
  RANDOM_SIZE,
  REGISTRY_FAILURE,
  runCurl,
  startShare,
  TRICKY_NAMES,
  type RunningShare,
} from "./share-fixture.js";

let share: RunningShare;

beforeAll(async () => {
  share = await startShare({ tree: buildSampleTree() });
});

afterAll(() => share.close());

const randomUrl = () => `${share.origin}/random.bin`;

async function getBytes(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe("GET file", () => {
  it("whole file matches byte for byte", async () => {
    const { response, bytes } = await getBytes(randomUrl());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(RANDOM_SIZE));
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(response.headers.get("etag")).toBe('"sha256:0123abcd"');
    expect(response.headers.get("last-modified")).toBe("Mon, 06 May 2024 07:08:09 GMT");
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(sha256Of(bytes)).toBe(sha256Of(RANDOM_BYTES));
  });

  it("content type comes from the node", async () => {
    const { response, bytes } = await getBytes(`${share.origin}/typed.json`);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(bytes.toString()).toBe('{"a":1}\n');
  });

  it("tricky names are served by their encoded path", async () => {
    for (const name of TRICKY_NAMES) {
      const { response, bytes } = await getBytes(
        `${share.origin}/tricky/${encodeURIComponent(name)}`,
      );
      expect(response.status, name).toBe(200);
      expect(bytes.toString("utf8"), name).toBe(name);
    }
  });

  it("empty file is 200 with no body", async () => {
    const { response, bytes } = await getBytes(`${share.origin}/empty.txt`, { Range: "bytes=0-" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("0");
    expect(bytes.length).toBe(0);
  });
});

describe("GET range", () => {
  const cases: Array<{ range: string; start: number; end: number }> = [
    { range: "bytes=0-0", start: 0, end: 0 },
    { range: "bytes=100-199", start: 100, end: 199 },
    { range: "bytes=1048570-2097160", start: 1048570, end: 2097160 },
    { range: "bytes=5000000-", start: 5000000, end: RANDOM_SIZE - 1 },
    { range: "bytes=-500", start: RANDOM_SIZE - 500, end: RANDOM_SIZE - 1 },
    { range: "bytes=-99999999", start: 0, end: RANDOM_SIZE - 1 },
    {
      range: `bytes=${RANDOM_SIZE - 10}-99999999999`,
      start: RANDOM_SIZE - 10,
      end: RANDOM_SIZE - 1,
    },
    { range: "BYTES = 5-9".replace(" = ", "="), start: 5, end: 9 },
  ];

  for (const { range, start, end } of cases) {
    it(`${range} is 206 with the right bytes`, async () => {
      const { response, bytes } = await getBytes(randomUrl(), { Range: range });
      expect(response.status).toBe(206);
      expect(response.headers.get("content-range")).toBe(`bytes ${start}-${end}/${RANDOM_SIZE}`);
      expect(response.headers.get("content-length")).toBe(String(end - start + 1));
      expect(bytes.equals(RANDOM_BYTES.subarray(start, end + 1))).toBe(true);
    });
  }

  for (const range of [
    `bytes=${RANDOM_SIZE}-`,
    `bytes=${RANDOM_SIZE + 5}-${RANDOM_SIZE + 9}`,
    "bytes=-0",
  ]) {
    it(`${range} is 416`, async () => {
      const { response } = await getBytes(randomUrl(), { Range: range });
      expect(response.status).toBe(416);
      expect(response.headers.get("content-range")).toBe(`bytes */${RANDOM_SIZE}`);
    });
  }

  for (const range of ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=abc", "bytes=-"]) {
    it(`${range} falls back to the whole file`, async () => {
      const { response, bytes } = await getBytes(randomUrl(), { Range: range });
      expect(response.status).toBe(200);
      expect(bytes.length).toBe(RANDOM_SIZE);
    });
  }

  it("curl range download matches", async () => {
    const result = await runCurl(["--range", "4000000-4999999", randomUrl()]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.equals(RANDOM_BYTES.subarray(4000000, 5000000))).toBe(true);
  });
});

describe("GET conditional", () => {
  it("If-None-Match with the ETag is 304", async () => {
    const response = await fetch(randomUrl(), {
      headers: { "If-None-Match": '"other", W/"sha256:0123abcd"' },
    });
    expect(response.status).toBe(304);
    expect(response.headers.get("etag")).toBe('"sha256:0123abcd"');
  });

  it("If-None-Match with another tag is 200", async () => {
    const response = await fetch(`${share.origin}/typed.json`, {
      headers: { "If-None-Match": '"other"' },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  it("If-Modified-Since at Last-Modified is 304", async () => {
    const response = await fetch(randomUrl(), {
      headers: { "If-Modified-Since": "Mon, 06 May 2024 07:08:09 GMT" },
    });
    expect(response.status).toBe(304);
  });

  it("If-Range with matching ETag honours Range", async () => {
    const { response } = await getBytes(randomUrl(), {
      Range: "bytes=0-9",
      "If-Range": '"sha256:0123abcd"',
    });
    expect(response.status).toBe(206);
  });

  it("If-Range with matching date honours Range", async () => {
    const headers = { Range: "bytes=0-9", "If-Range": "Mon, 06 May 2024 07:08:09 GMT" };
    const { response } = await getBytes(randomUrl(), headers);
    expect(response.status).toBe(206);
  });

  it("If-Range with a stale ETag sends the whole file", async () => {
    const { response, bytes } = await getBytes(randomUrl(), {
      Range: "bytes=0-9",
      "If-Range": '"stale"',
    });
    expect(response.status).toBe(200);
    expect(bytes.length).toBe(RANDOM_SIZE);
  });
});

describe("HEAD", () => {
  it("sends GET's headers without a body", async () => {
    const response = await fetch(randomUrl(), {
      method: "HEAD",
      headers: { Range: "bytes=10-19" },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-length")).toBe("10");
    expect(response.headers.get("content-range")).toBe(`bytes 10-19/${RANDOM_SIZE}`);
    expect(response.headers.get("etag")).toBe('"sha256:0123abcd"');
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });

  it("curl -I on a file", async () => {
    const result = await runCurl(["-I", randomUrl()]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toContain(`Content-Length: ${RANDOM_SIZE}`);
  });
});

describe("GET failures", () => {
  it("erroring stream makes curl fail", async () => {
    const result = await runCurl(["--output", "/dev/null", `${share.origin}/broken.bin`]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/transfer closed|bytes remaining|Recv failure/i);
  });

  it("erroring stream makes fetch fail", async () => {
    const response = await fetch(`${share.origin}/broken.bin`);
    expect(response.status).toBe(200);
    await expect(response.arrayBuffer()).rejects.toThrow();
  });

  it("erroring stream fails a range read too", async () => {
    const result = await runCurl([
      "--output",
      "/dev/null",
      "--range",
      `${BROKEN_AFTER - 10}-`,
      `${share.origin}/broken.bin`,
    ]);
    expect(result.exitCode).not.toBe(0);
  });

  it("server keeps serving after an aborted body", async () => {
    await runCurl(["--output", "/dev/null", `${share.origin}/broken.bin`]);
    const { response } = await getBytes(`${share.origin}/typed.json`);
    expect(response.status).toBe(200);
  });

  it("registry failure on read is 502 with its message", async () => {
    const result = await runCurl(["--include", `${share.origin}/read-fails.bin`]);
    expect(result.exitCode).toBe(0);
    const text = result.stdout.toString();
    expect(text).toMatch(/^HTTP\/1\.1 502/);
    expect(text).toContain(REGISTRY_FAILURE);
  });

  it("registry failure on stat is 502 with its message", async () => {
    const response = await fetch(`${share.origin}/stat-fails.bin`);
    expect(response.status).toBe(502);
    expect((await response.text()).trim()).toBe(REGISTRY_FAILURE);
  });

  it("missing file is 404", async () => {
    const response = await fetch(`${share.origin}/nope.txt`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("/nope.txt");
  });

  it("trailing slash on a file is 404", async () => {
    const response = await fetch(`${share.origin}/typed.json/`);
    expect(response.status).toBe(404);
    await response.text();
  });
});

describe("GET folder", () => {
  it("lists names escaped with encoded links", async () => {
    const response = await fetch(`${share.origin}/tricky/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain('<a href="/tricky/%3Ctag%3E%26amp">&lt;tag&gt;&amp;amp</a>');
    expect(html).toContain('<a href="/tricky/quote%22s">quote&quot;s</a>');
    expect(html).toContain('<a href="/tricky/a%23b">a#b</a>');
    expect(html).toContain('<a href="/tricky/sub%20folder%231/">sub folder#1/</a>');
    expect(html).toContain('<a href="/">../</a>');
    expect(html).not.toContain("<tag>");
  });

  it("registry failure on listing is 502", async () => {
    const response = await fetch(`${share.origin}/registry-down/`);
    expect(response.status).toBe(502);
    expect((await response.text()).trim()).toBe(REGISTRY_FAILURE);
  });

  it("HEAD on a folder has no body", async () => {
    const response = await fetch(`${share.origin}/tricky/`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get("content-length"))).toBeGreaterThan(0);
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });
});
