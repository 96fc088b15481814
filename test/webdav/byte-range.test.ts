import { describe, expect, it } from "vitest";
import { selectRange } from "../../src/webdav/byte-range.js";
import { UnsatisfiableRangeError } from "../../src/webdav/error-response.js";

describe("selectRange", () => {
  const size = 1000;
  const partial: Array<[string, number, number]> = [
    ["bytes=0-0", 0, 0],
    ["bytes=0-999", 0, 999],
    ["bytes=0-5000", 0, 999],
    ["bytes=10-", 10, 999],
    ["bytes=999-", 999, 999],
    ["bytes=-1", 999, 999],
    ["bytes=-1000", 0, 999],
    ["bytes=-5000", 0, 999],
    ["bytes= 3-4 ", 3, 4],
    ["Bytes=3-4", 3, 4],
    ["bytes=3-4,", 3, 4],
  ];
  for (const [header, start, end] of partial) {
    it(`${header} selects ${start}-${end}`, () => {
      expect(selectRange(header, size)).toEqual({ kind: "partial", range: { start, end } });
    });
  }

  for (const header of [
    undefined,
    "bytes=0-1,3-4",
    "bytes=5-4",
    "bytes=-",
    "bytes=a-b",
    "bytes=1.5-2",
    "lines=1-2",
    "bytes 1-2",
  ]) {
    it(`${String(header)} selects the whole file`, () => {
      expect(selectRange(header, size)).toEqual({ kind: "whole" });
    });
  }

  for (const header of [
    "bytes=1000-",
    "bytes=1000-1001",
    "bytes=99999999999999999999-",
    "bytes=-0",
  ]) {
    it(`${header} is unsatisfiable`, () => {
      expect(() => selectRange(header, size)).toThrow(UnsatisfiableRangeError);
    });
  }

  it("empty file ignores any range", () => {
    expect(selectRange("bytes=0-", 0)).toEqual({ kind: "whole" });
    expect(selectRange("bytes=-5", 0)).toEqual({ kind: "whole" });
  });
});
