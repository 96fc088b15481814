import { describe, expect, it } from "vitest";

import { parseListen, parseServeOptions } from "../../src/cli/serve-options.js";
import { UsageError } from "../../src/cli/usage-error.js";

describe("parseListen", () => {
  it.each([
    ["127.0.0.1:8080", { host: "127.0.0.1", port: 8080 }],
    ["[::1]:9000", { host: "::1", port: 9000 }],
    [":8080", { host: "0.0.0.0", port: 8080 }],
    ["localhost:0", { host: "localhost", port: 0 }],
  ])("%s", (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });

  it.each(["8080", "host:", "host:99999", "a:b:c"])("rejects %s", (text) => {
    expect(() => parseListen(text)).toThrow(UsageError);
    expect(() => parseListen(text)).toThrow(text);
  });
});

describe("parseServeOptions", () => {
  it("defaults to docker.io on loopback", () => {
    const options = parseServeOptions([]);
    expect(options.registries).toEqual(["docker.io"]);
    expect(options.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(options.platform).toBe("linux/amd64");
  });

  it("takes repeated registries", () => {
    const options = parseServeOptions(["--registry", "a.io", "--registry", "b.io:5000"]);
    expect(options.registries).toEqual(["a.io", "b.io:5000"]);
  });

  it("names a bad platform", () => {
    expect(() => parseServeOptions(["--platform", "linux"])).toThrow(/invalid --platform "linux"/);
  });

  it("rejects an unknown option", () => {
    expect(() => parseServeOptions(["--bogus"])).toThrow(/--bogus/);
  });

  it("needs both TLS files", () => {
    expect(() => parseServeOptions(["--tls-cert", "c.pem"])).toThrow(/--tls-key/);
  });
});
