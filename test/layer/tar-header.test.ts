import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { parseNumericField, parseTarHeader } from "../../src/layer/tar-header.js";
import { tarHeader, TEST_DIGEST, withChecksum } from "./tar-fixtures.js";

function field(bytes: number[] | string, length = 12): Buffer {
  const buffer = Buffer.alloc(length);
  if (typeof bytes === "string") buffer.write(bytes, "latin1");
  else Buffer.from(bytes).copy(buffer);
  return buffer;
}

describe("parseNumericField", () => {
  const cases: Array<[string, Buffer, number | undefined]> = [
    ["octal with NUL", field("00000001750\0"), 1000],
    ["octal with space", field("0000644 \0", 8), 0o644],
    ["leading spaces", field("    1750 \0"), 1000],
    ["all NUL", field([]), 0],
    ["all spaces", field("            "), 0],
    ["a non-octal digit", field("00000001780\0"), undefined],
    ["a letter", field("0000000x750\0"), undefined],
    ["digits after padding", field("1750 12\0"), undefined],
    ["base-256 positive", field([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]), 1000],
    ["base-256 beyond 8 GiB", field([0x80, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0]), 2 ** 36],
    ["base-256 negative", field([...Array(11).fill(0xff), 0xfe]), -2],
    ["base-256 over 2^53", field([0x80, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0]), undefined],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`reads ${name}`, () => {
      expect(parseNumericField(bytes)).toBe(expected);
    });
  }
});

describe("parseTarHeader", () => {
  it("reads the fields of a ustar header", () => {
    const block = tarHeader({
      name: "file",
      prefix: "dir",
      size: 12,
      mode: 0o755,
      mtime: 99,
      typeflag: "2",
      linkName: "target",
    });
    expect(parseTarHeader(block, 0, TEST_DIGEST)).toEqual({
      name: "dir/file",
      mode: 0o755,
      size: 12,
      mtime: 99,
      typeflag: "2",
      linkName: "target",
    });
  });

  it("accepts a checksum of signed bytes", () => {
    const block = tarHeader({ name: "n\u00e9", typeflag: "0" });
    let signed = 0;
    block.fill(0x20, 148, 156);
    for (const byte of block) signed += byte > 127 ? byte - 256 : byte;
    block.write(signed.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
    expect(parseTarHeader(block, 0, TEST_DIGEST).name).toBe("né");
  });

  it("decodes names that are not UTF-8 as Latin-1", () => {
    const block = tarHeader({ name: "x" });
    block[0] = 0xe9;
    expect(parseTarHeader(withChecksum(block), 0, TEST_DIGEST).name).toBe("é");
  });

  it("names the digest and offset of a checksum mismatch", () => {
    const block = tarHeader({ name: "file" });
    block[0] = 0x67;
    expect(() => parseTarHeader(block, 4096, TEST_DIGEST)).toThrow(RegdavError);
    expect(() => parseTarHeader(block, 4096, TEST_DIGEST)).toThrow(
      `layer ${TEST_DIGEST}: invalid tar at offset 4096: header checksum mismatch`,
    );
  });
});
