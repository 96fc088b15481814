import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import {
  computeDigest,
  digestFromPath,
  digestToPath,
  isDigest,
  parseDigest,
  validateDigest,
} from "../../src/reference/digest.js";
import {
  createDigestVerifier,
  DigestMismatchError,
  SizeMismatchError,
} from "../../src/reference/digest-verifier.js";

const helloSha256 = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const helloSha512 =
  "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7" +
  "2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";
const emptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return error instanceof RegdavError ? error.code : "not a RegdavError";
  }
  return undefined;
}

describe("parseDigest", () => {
  it("parses sha256 and sha512", () => {
    expect(parseDigest(helloSha256)).toEqual({ algorithm: "sha256", hex: helloSha256.slice(7) });
    expect(parseDigest(helloSha512)).toEqual({ algorithm: "sha512", hex: helloSha512.slice(7) });
  });

  it.each([
    ["", "expected algorithm:hex"],
    ["sha256", "expected algorithm:hex"],
    ["sha256:", "expected algorithm:hex"],
    [`sha256/${helloSha256.slice(7)}`, "expected algorithm:hex"],
    [helloSha256.toUpperCase(), "expected algorithm:hex"],
    [`sha256:${helloSha256.slice(7, 70)}`, "needs 64 hex digits, got 63"],
    [`${helloSha256}00`, "needs 64 hex digits, got 66"],
    [`sha512:${helloSha256.slice(7)}`, "needs 128 hex digits, got 64"],
    [`sha384:${"a".repeat(96)}`, "unsupported algorithm sha384"],
    [` ${helloSha256}`, "expected algorithm:hex"],
  ])("rejects %j", (text, reason) => {
    expect(() => parseDigest(text)).toThrow(reason);
    expect(() => parseDigest(text)).toThrow(JSON.stringify(text));
    expect(codeOf(() => parseDigest(text))).toBe("BAD_REQUEST");
  });

  it("validates and tests", () => {
    expect(validateDigest(helloSha256)).toBe(helloSha256);
    expect(isDigest(helloSha256)).toBe(true);
    expect(isDigest("sha256:abc")).toBe(false);
  });
});

describe("digest path form", () => {
  it("converts both ways", () => {
    const path = `sha256/${helloSha256.slice(7)}`;
    expect(digestFromPath(path)).toBe(helloSha256);
    expect(digestFromPath(helloSha256)).toBe(helloSha256);
    expect(digestToPath(helloSha256)).toBe(path);
  });

  it("rejects a malformed path", () => {
    expect(codeOf(() => digestFromPath("sha256/xyz"))).toBe("BAD_REQUEST");
    expect(codeOf(() => digestFromPath(`sha256:${"a".repeat(63)}`))).toBe("BAD_REQUEST");
    expect(codeOf(() => digestFromPath(`sha256/a/${"a".repeat(64)}`))).toBe("BAD_REQUEST");
  });
});

describe("computeDigest", () => {
  it("hashes with sha256 by default", () => {
    expect(computeDigest(Buffer.from("hello"))).toBe(helloSha256);
    expect(computeDigest(Buffer.alloc(0))).toBe(emptySha256);
  });

  it("hashes with sha512", () => {
    expect(computeDigest(Buffer.from("hello"), "sha512")).toBe(helloSha512);
  });
});

async function runVerifier(chunks: string[], digest: string, size?: number) {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      callback();
    },
  });
  const options =
    size === undefined
      ? { digest, repository: "team/app" }
      : { digest, size, repository: "team/app" };
  const verifier = createDigestVerifier(options);
  const source = Readable.from(chunks.map((chunk) => Buffer.from(chunk)));
  try {
    await pipeline(source, verifier, sink);
    return { error: undefined, received: Buffer.concat(received).toString() };
  } catch (error) {
    return { error, received: Buffer.concat(received).toString() };
  }
}

describe("DigestVerifier", () => {
  it("passes matching content through", async () => {
    const result = await runVerifier(["he", "llo"], helloSha256, 5);
    expect(result.error).toBeUndefined();
    expect(result.received).toBe("hello");
  });

  it("passes content when no size is given", async () => {
    const result = await runVerifier(["hello"], helloSha256);
    expect(result.error).toBeUndefined();
  });

  it("verifies sha512 content", async () => {
    const result = await runVerifier(["hel", "lo"], helloSha512, 5);
    expect(result.error).toBeUndefined();
  });

  it("fails on a wrong hash at the end", async () => {
    const result = await runVerifier(["hellO"], helloSha256, 5);
    expect(result.error).toBeInstanceOf(DigestMismatchError);
    const error = result.error as DigestMismatchError;
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.expected).toBe(helloSha256);
    expect(error.actual).toBe(computeDigest(Buffer.from("hellO")));
    expect(error.message).toContain(helloSha256);
    expect(error.message).toContain(error.actual);
    expect(error.message).toContain("team/app");
    expect(result.received).toBe("hellO");
  });

  it("fails on short content at the end", async () => {
    const result = await runVerifier(["hell"], helloSha256, 5);
    expect(result.error).toBeInstanceOf(SizeMismatchError);
    const error = result.error as SizeMismatchError;
    expect(error.code).toBe("SIZE_MISMATCH");
    expect(error.actualSize).toBe(4);
    expect(error.message).toContain("expected 5 bytes, received 4");
    expect(error.message).toContain("team/app");
  });

  it("fails as soon as the size overflows", async () => {
    const result = await runVerifier(["hel", "lo!", "more"], helloSha256, 5);
    expect(result.error).toBeInstanceOf(SizeMismatchError);
    const error = result.error as SizeMismatchError;
    expect(error.kind).toBe("overflow");
    expect(error.message).toContain("expected 5 bytes, received more than 5");
    expect(result.received).toBe("hel");
  });

  it("rejects an invalid expected digest", () => {
    expect(codeOf(() => createDigestVerifier({ digest: "sha256:zz", repository: "a" }))).toBe(
      "BAD_REQUEST",
    );
  });
});
