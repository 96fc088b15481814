import { describe, expect, it } from "vitest";

import { parseEstargzFooter } from "../../../src/layer/toc/estargz-footer.js";
import { TocUnusableError } from "../../../src/layer/toc/toc-error.js";
import { footer, legacyFooter } from "../../harness/estargz.js";

describe("eStargz footer", () => {
  it("parses the 51-byte footer", () => {
    const tail = Buffer.concat([Buffer.from("data before"), footer(0x1234abcd)]);
    expect(footer(1).length).toBe(51);
    expect(parseEstargzFooter(tail)).toEqual({ tocOffset: 0x1234abcd, footerSize: 51 });
  });

  it("parses the legacy 47-byte footer", () => {
    const tail = Buffer.concat([Buffer.alloc(4, 0x61), legacyFooter(987_654)]);
    expect(legacyFooter(1).length).toBe(47);
    expect(parseEstargzFooter(tail)).toEqual({ tocOffset: 987_654, footerSize: 47 });
  });

  it("rejects a truncated footer", () => {
    expect(() => parseEstargzFooter(footer(100).subarray(10))).toThrow(TocUnusableError);
    expect(() => parseEstargzFooter(footer(100).subarray(10))).toThrow(/too short/);
  });

  it("rejects a footer without the STARGZ magic", () => {
    const bytes = footer(100);
    bytes.write("STARGX", 51 - 13 - 6, "latin1");
    expect(() => parseEstargzFooter(bytes)).toThrow(/no eStargz footer/);
  });

  it("rejects a footer with a wrong subfield ID", () => {
    const bytes = footer(100);
    bytes.write("XG", 12, "latin1");
    expect(() => parseEstargzFooter(bytes)).toThrow(/no eStargz footer/);
  });

  it("rejects plain gzip data", () => {
    expect(() => parseEstargzFooter(Buffer.alloc(51, 0x1f))).toThrow(TocUnusableError);
  });

  it("rejects an offset that is not hex", () => {
    const bytes = footer(100);
    bytes.write("zz", 16, "latin1");
    expect(() => parseEstargzFooter(bytes)).toThrow(/not 16 hex digits/);
  });
});
