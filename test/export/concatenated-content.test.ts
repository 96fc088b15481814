import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";

import { describe, expect, it } from "vitest";

import {
  bytesPart,
  ConcatenatedContent,
  zerosPart,
  type ContentPart,
} from "../../src/export/concatenated-content.js";

/** Makes a part over `bytes` that records every range it opens. */
function recordingPart(bytes: Buffer, opened: [number, number][]): ContentPart {
  return {
    size: bytes.length,
    open: (start, end) => {
      opened.push([start, end]);
      return Readable.from([bytes.subarray(start, end + 1)]);
    },
  };
}

describe("ConcatenatedContent", () => {
  const pieces = [
    randomBytes(700),
    Buffer.alloc(0),
    randomBytes(1),
    randomBytes(4096),
    randomBytes(33),
  ];
  const whole = Buffer.concat(pieces);

  it("sums the part sizes", () => {
    const content = new ConcatenatedContent(pieces.map(bytesPart));
    expect(content.size).toBe(whole.length);
  });

  it("reads everything without a range", async () => {
    const content = new ConcatenatedContent(pieces.map(bytesPart));
    expect((await buffer(content.open())).equals(whole)).toBe(true);
  });

  it("reads random ranges as slices of the whole", async () => {
    const content = new ConcatenatedContent(pieces.map(bytesPart));
    for (let trial = 0; trial < 200; trial++) {
      const start = Math.floor(Math.random() * whole.length);
      const end = start + Math.floor(Math.random() * (whole.length - start));
      const read = await buffer(content.open({ start, end }));
      expect(read.equals(whole.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
  });

  it("opens only the parts a range overlaps", async () => {
    const opened: [number, number][][] = pieces.map(() => []);
    const content = new ConcatenatedContent(
      pieces.map((piece, position) => recordingPart(piece, opened[position]!)),
    );
    await buffer(content.open({ start: 702, end: 710 }));

    expect(opened[0]).toEqual([]);
    expect(opened[2]).toEqual([]);
    expect(opened[3]).toEqual([[1, 9]]);
    expect(opened[4]).toEqual([]);
  });

  it("reads a single last byte", async () => {
    const content = new ConcatenatedContent([zerosPart(10), bytesPart(Buffer.from("z"))]);
    const read = await buffer(content.open({ start: 10, end: 10 }));
    expect(read.toString()).toBe("z");
  });

  it("fails when a part sends too few bytes", async () => {
    const short: ContentPart = { size: 10, open: () => Readable.from([Buffer.alloc(4)]) };
    const content = new ConcatenatedContent([short, bytesPart(Buffer.from("after"))]);
    await expect(buffer(content.open())).rejects.toThrow(/ended after 4 of 10 bytes/);
  });

  it("fails when a part sends too many bytes", async () => {
    const long: ContentPart = { size: 2, open: () => Readable.from([Buffer.alloc(5)]) };
    const content = new ConcatenatedContent([long]);
    await expect(buffer(content.open())).rejects.toThrow(/more than the 2 bytes/);
  });

  it("stops reading parts when the reader stops", async () => {
    const opened: [number, number][] = [];
    const later: ContentPart = recordingPart(randomBytes(100), opened);
    const content = new ConcatenatedContent([zerosPart(64 * 1024), later]);
    const stream = content.open();
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    expect(opened).toEqual([]);
  });
});
