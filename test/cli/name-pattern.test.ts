import { describe, expect, it } from "vitest";

import { compileNamePattern } from "../../src/cli/name-pattern.js";
import { UsageError } from "../../src/cli/usage-error.js";

describe("compileNamePattern", () => {
  it.each([
    ["*.pem", "ca.pem", true],
    ["*.pem", "ca.pem.bak", false],
    ["*", ".hidden", true],
    ["?", "a", true],
    ["?", "ab", false],
    ["?", "é", true],
    ["os-release", "os-release", true],
    ["os-release", "os-releases", false],
    ["a.b", "axb", false],
    ["[abc]x", "bx", true],
    ["[abc]x", "dx", false],
    ["[a-c]x", "bx", true],
    ["[!a-c]x", "bx", false],
    ["[^a-c]x", "dx", true],
    ["[]a]", "]", true],
    ["[a-]", "-", true],
    ["[\\-]", "-", true],
    ["\\*", "*", true],
    ["\\*", "x", false],
    ["(x)|y", "(x)|y", true],
    ["*$", "a$", true],
    ["*", "line\nbreak", true],
  ])("%s against %j is %s", (pattern, name, expected) => {
    expect(compileNamePattern(pattern).test(name)).toBe(expected);
  });

  it("rejects an unclosed set", () => {
    expect(() => compileNamePattern("[abc")).toThrow(UsageError);
    expect(() => compileNamePattern("[abc")).toThrow(/"\[abc"/);
  });
});
