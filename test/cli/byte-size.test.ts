import { describe, expect, it } from "vitest";

import { parseByteSize } from "../../src/cli/byte-size.js";
import { UsageError } from "../../src/cli/usage-error.js";

describe("parseByteSize", () => {
  it.each([
    ["1048576", 1048576],
    ["500MiB", 500 * 2 ** 20],
    ["10GiB", 10 * 2 ** 30],
    ["10gib", 10 * 2 ** 30],
    ["2KB", 2000],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["7 B", 7],
  ])("%s is %d bytes", (text, bytes) => {
    expect(parseByteSize(text, "--cache-size")).toBe(bytes);
  });

  it.each(["", "ten", "10XB", "-1", "5 GiB extra"])("rejects %j", (text) => {
    expect(() => parseByteSize(text, "--cache-size")).toThrow(UsageError);
    expect(() => parseByteSize(text, "--cache-size")).toThrow(`invalid --cache-size ${JSON.stringify(text)}`);
  });
});
