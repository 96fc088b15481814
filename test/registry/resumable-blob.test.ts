import { Readable } from "node:stream";
import { text } from "node:stream/consumers";

import { describe, expect, it } from "vitest";

import type { HttpResponse } from "../../src/registry/http.js";
import {
  backoffDelay,
  defaultResumePolicy,
  resumableBlob,
  type ResumePolicy,
} from "../../src/registry/resumable-blob.js";

const fast: ResumePolicy = { ...defaultResumePolicy, baseDelayMs: 1, maxDelayMs: 2 };
const blob = "0123456789abcdefghij";

/** Returns a body that sends `sent` and then fails as a reset connection does. */
function brokenBody(sent: string): Readable {
  return new Readable({
    read() {
      this.push(sent);
      this.destroy(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }));
    },
  });
}

function response(
  status: number,
  body: Readable,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    method: "GET",
    status,
    headers,
    body: body as HttpResponse["body"],
    url: new URL("http://registry.test/v2/x/blobs/sha256:00"),
  };
}

function partial(offset: number): HttpResponse {
  const rest = blob.slice(offset);
  const range = `bytes ${offset}-${blob.length - 1}/${blob.length}`;
  return response(206, Readable.from([Buffer.from(rest)]), { "content-range": range });
}

describe("resumableBlob", () => {
  it("resumes at the first byte not received", async () => {
    const offsets: number[] = [];
    const stream = resumableBlob(
      {
        first: response(200, brokenBody(blob.slice(0, 7))),
        reopen: async (offset) => (offsets.push(offset), partial(offset)),
        size: blob.length,
        label: "blob test",
      },
      fast,
    );
    expect(await text(stream)).toBe(blob);
    expect(offsets).toEqual([7]);
  });

  it("skips the start when the registry ignores Range", async () => {
    const stream = resumableBlob(
      {
        first: response(200, brokenBody(blob.slice(0, 5))),
        reopen: async () => {
          const chunks = [
            Buffer.from(blob.slice(0, 3)),
            Buffer.from(blob.slice(3, 9)),
            Buffer.from(blob.slice(9)),
          ];
          return response(200, Readable.from(chunks));
        },
        label: "blob test",
      },
      fast,
    );
    expect(await text(stream)).toBe(blob);
  });

  it("rejects a 206 that starts elsewhere", async () => {
    const stream = resumableBlob(
      {
        first: response(200, brokenBody(blob.slice(0, 5))),
        reopen: async () => partial(3),
        label: "blob test",
      },
      fast,
    );
    await expect(text(stream)).rejects.toThrow(/blob test: resuming at byte 5 got 206/);
  });

  it("gives up after maxAttempts failures in a row", async () => {
    let reopened = 0;
    const stream = resumableBlob(
      {
        first: response(200, brokenBody("01")),
        reopen: async () => (
          reopened++,
          response(206, brokenBody(""), { "content-range": "bytes 2-19/20" })
        ),
        label: "blob test",
      },
      { ...fast, maxAttempts: 3 },
    );
    await expect(text(stream)).rejects.toThrow(/download failed at byte 2 after 3 resumes/);
    expect(reopened).toBe(3);
  });
});

describe("backoffDelay", () => {
  it("stays between half and all of the doubled delay", () => {
    for (let attempt = 1; attempt <= 4; attempt++) {
      const ceiling = defaultResumePolicy.baseDelayMs * 2 ** (attempt - 1);
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, defaultResumePolicy);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("is capped at maxDelayMs", () => {
    expect(backoffDelay(30, defaultResumePolicy)).toBeLessThanOrEqual(
      defaultResumePolicy.maxDelayMs,
    );
  });
});
