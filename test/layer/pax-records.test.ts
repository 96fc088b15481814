import { describe, expect, it } from "vitest";

import { parsePaxRecords, readPaxOverrides } from "../../src/layer/pax-records.js";
import { paxRecords } from "./tar-fixtures.js";

const fail = (problem: string) => new Error(problem);

describe("parsePaxRecords", () => {
  it("reads records with multi-byte values", () => {
    const data = paxRecords({
      path: "dïr/fïle = x\n y",
      linkpath: "t",
      "SCHILY.xattr.user.a": "1",
    });
    expect([...parsePaxRecords(data, fail)]).toEqual([
      ["path", "dïr/fïle = x\n y"],
      ["linkpath", "t"],
      ["SCHILY.xattr.user.a", "1"],
    ]);
  });

  it("stops at NUL padding", () => {
    const data = Buffer.concat([paxRecords({ path: "p" }), Buffer.alloc(20)]);
    expect([...parsePaxRecords(data, fail)]).toEqual([["path", "p"]]);
  });

  const malformed: Array<[string, string]> = [
    ["a length past the end", "30 path=p\n"],
    ["a missing newline", "10 path=pp"],
    ["a non-numeric length", "x path=p\n"],
    ["a zero length", "0 path=p\n"],
    ["a missing key", "9 =value\n"],
  ];
  for (const [name, text] of malformed) {
    it(`rejects ${name}`, () => {
      expect(() => parsePaxRecords(Buffer.from(text), fail)).toThrow(/PAX record/);
    });
  }
});

describe("readPaxOverrides", () => {
  function overrides(records: Record<string, string>) {
    return readPaxOverrides(new Map(Object.entries(records)), fail);
  }

  it("reads path, linkpath, size and mtime", () => {
    const records = { path: "a", linkpath: "b", size: "123456789012", mtime: "1650000000.123456" };
    expect(overrides(records)).toEqual({
      path: "a",
      linkPath: "b",
      size: 123456789012,
      modified: 1650000000123,
    });
  });

  const times: Array<[string, number]> = [
    ["1650000000", 1650000000000],
    ["1650000000.5", 1650000000500],
    ["1650000000.", 1650000000000],
    ["-1.25", -1250],
    ["0.0009", 0],
  ];
  for (const [text, expected] of times) {
    it(`reads mtime ${text}`, () => {
      expect(overrides({ mtime: text }).modified).toBe(expected);
    });
  }

  it("treats empty values as absent", () => {
    expect(overrides({ path: "", size: "" })).toEqual({});
  });

  it("rejects an invalid size and mtime", () => {
    expect(() => overrides({ size: "-1" })).toThrow("invalid PAX size");
    expect(() => overrides({ size: "99999999999999999999" })).toThrow("invalid PAX size");
    expect(() => overrides({ mtime: "noon" })).toThrow("invalid PAX mtime");
  });
});
