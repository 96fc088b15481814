import { describe, expect, it } from "vitest";

import { parseServeOptions } from "../../src/cli/serve-options.js";
import { UsageError } from "../../src/cli/usage-error.js";

describe("registry options of regdav serve", () => {
  it("reads repeated --mirror", () => {
    const options = parseServeOptions([
      "--mirror",
      "docker.io=http://127.0.0.1:5001",
      "--mirror",
      "docker.io=https://mirror.example",
    ]);
    expect(options.mirrors.map((mirror) => [mirror.registry, mirror.url.href])).toEqual([
      ["docker.io", "http://127.0.0.1:5001/"],
      ["docker.io", "https://mirror.example/"],
    ]);
  });

  it("defaults to no mirror or auth file", () => {
    const options = parseServeOptions([]);
    expect(options.mirrors).toEqual([]);
    expect(options.authFile).toBeUndefined();
  });

  it("names a bad --mirror", () => {
    expect(() => parseServeOptions(["--mirror", "docker.io"])).toThrow(UsageError);
    expect(() => parseServeOptions(["--mirror", "docker.io"])).toThrow(
      'invalid --mirror "docker.io": use NAME=URL',
    );
  });

  it("reads --auth-file", () => {
    const options = parseServeOptions(["--auth-file", "/etc/regdav/auth.json"]);
    expect(options.authFile).toBe("/etc/regdav/auth.json");
  });

  it("takes no password option", () => {
    expect(() => parseServeOptions(["--password", "x"])).toThrow(/--password/);
  });
});
