import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import {
  apiHostOf,
  formatReference,
  manifestReferenceOf,
  parseReference,
  type ImageReference,
} from "../../src/reference/reference.js";

const hex = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
const digest = `sha256:${hex}`;

const validCases: [string, ImageReference][] = [
  ["debian", { registry: "docker.io", repository: "library/debian", tag: "latest" }],
  ["debian:12", { registry: "docker.io", repository: "library/debian", tag: "12" }],
  ["bitnami/redis:7.2", { registry: "docker.io", repository: "bitnami/redis", tag: "7.2" }],
  ["docker.io/debian", { registry: "docker.io", repository: "library/debian", tag: "latest" }],
  [
    "docker.io/library/debian:12",
    { registry: "docker.io", repository: "library/debian", tag: "12" },
  ],
  [
    "index.docker.io/debian",
    { registry: "docker.io", repository: "library/debian", tag: "latest" },
  ],
  ["index.docker.io/user/app:v1", { registry: "docker.io", repository: "user/app", tag: "v1" }],
  ["ghcr.io/org/tool:v1.2.3", { registry: "ghcr.io", repository: "org/tool", tag: "v1.2.3" }],
  ["ghcr.io/tool", { registry: "ghcr.io", repository: "tool", tag: "latest" }],
  ["127.0.0.1:5000/app", { registry: "127.0.0.1:5000", repository: "app", tag: "latest" }],
  ["127.0.0.1:5000/team/app:1", { registry: "127.0.0.1:5000", repository: "team/app", tag: "1" }],
  ["localhost/app", { registry: "localhost", repository: "app", tag: "latest" }],
  ["localhost:5000/a/b/c:x", { registry: "localhost:5000", repository: "a/b/c", tag: "x" }],
  ["[::1]:5000/app:2", { registry: "[::1]:5000", repository: "app", tag: "2" }],
  ["Registry/app", { registry: "Registry", repository: "app", tag: "latest" }],
  ["localhost:5000", { registry: "docker.io", repository: "library/localhost", tag: "5000" }],
  [
    "my-registry.example.com:443/a_b/c.d/e__f/g-h---i",
    {
      registry: "my-registry.example.com:443",
      repository: "a_b/c.d/e__f/g-h---i",
      tag: "latest",
    },
  ],
  [`debian@${digest}`, { registry: "docker.io", repository: "library/debian", digest }],
  [
    `debian:12@${digest}`,
    { registry: "docker.io", repository: "library/debian", tag: "12", digest },
  ],
  [`127.0.0.1:5000/app@${digest}`, { registry: "127.0.0.1:5000", repository: "app", digest }],
  ["app:_private", { registry: "docker.io", repository: "library/app", tag: "_private" }],
  [
    `app:${"t".repeat(128)}`,
    { registry: "docker.io", repository: "library/app", tag: "t".repeat(128) },
  ],
];

describe("parseReference", () => {
  it.each(validCases)("parses %s", (text, expected) => {
    expect(parseReference(text)).toEqual(expected);
  });

  const invalidCases: [string, string][] = [
    ["", "it is empty"],
    ["Debian", "must be lowercase"],
    ["docker.io/Library/debian", "must be lowercase"],
    ["debian:", "invalid tag"],
    ["debian:-x", "invalid tag"],
    [`debian:${"t".repeat(129)}`, "invalid tag"],
    ["debian:a/b", 'invalid registry "debian:a"'],
    ["a//b", "invalid repository name"],
    ["a/", "invalid repository name"],
    ["-a", "invalid repository name"],
    ["a-", "invalid repository name"],
    ["a..b", "invalid repository name"],
    ["a___b", "invalid repository name"],
    ["a b", "invalid repository name"],
    ["localhost/", "invalid repository name"],
    ["exa_mple.com/app", "invalid registry"],
    ["-bad.com/app", "invalid registry"],
    ["host.com:port/app", "invalid registry"],
    ["debian@sha256:abc", "needs 64 hex digits"],
    [`debian@md5:${"a".repeat(32)}`, "unsupported algorithm md5"],
    [`debian@sha256:${hex.toUpperCase()}`, "expected algorithm:hex"],
    [`debian@${digest}@${digest}`, "expected algorithm:hex"],
    [hex, "image ID"],
    [`example.com/${"a".repeat(244)}`, "the maximum is 255"],
    [`${"a".repeat(250)}/app`, "the maximum is 255"],
  ];

  it.each(invalidCases)("rejects %j", (text, reason) => {
    let caught: unknown;
    try {
      parseReference(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegdavError);
    expect((caught as RegdavError).code).toBe("BAD_REQUEST");
    expect((caught as RegdavError).message).toContain(JSON.stringify(text));
    expect((caught as RegdavError).message).toContain(reason);
  });

  it("accepts a name of exactly 255 characters", () => {
    const repository = "a".repeat(255 - "example.com/".length);
    expect(parseReference(`example.com/${repository}`).repository).toBe(repository);
  });

  it("rejects a long non-matching name quickly", () => {
    // The grammar's own `[-]*` separator takes seconds on this input.
    const started = Date.now();
    expect(() => parseReference(`${"a".repeat(200)}!`)).toThrow(RegdavError);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe("reference helpers", () => {
  it("formats with the registry written out", () => {
    expect(formatReference(parseReference("debian"))).toBe("docker.io/library/debian:latest");
    expect(formatReference(parseReference(`a:1@${digest}`))).toBe(
      `docker.io/library/a:1@${digest}`,
    );
  });

  it("prefers the digest for the manifest request", () => {
    expect(manifestReferenceOf(parseReference(`debian:12@${digest}`))).toBe(digest);
    expect(manifestReferenceOf(parseReference("debian:12"))).toBe("12");
    expect(manifestReferenceOf({ registry: "docker.io", repository: "library/x" })).toBe("latest");
  });

  it.each([
    ["docker.io", "registry-1.docker.io"],
    ["ghcr.io", "ghcr.io"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
    ["localhost", "localhost"],
  ])("maps %s to API host %s", (registry, host) => {
    expect(apiHostOf(registry)).toBe(host);
  });
});
