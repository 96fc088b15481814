import { Readable } from "node:stream";

import { extract, type Header } from "tar-stream";
import { describe, expect, it } from "vitest";

import {
  encodeTarHeader,
  END_OF_ARCHIVE_SIZE,
  paddingAfter,
  TAR_BLOCK_SIZE,
} from "../../src/export/tar-header.js";

interface Extracted {
  header: Header;
  content: Buffer;
}

/** Reads an archive with tar-stream, an independent tar reader. */
async function readArchive(archive: Buffer): Promise<Extracted[]> {
  const members: Extracted[] = [];
  const reader = extract();
  reader.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk) => chunks.push(chunk as Buffer));
    stream.on("end", () => {
      members.push({ header, content: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  Readable.from([archive]).pipe(reader);
  await done;
  return members;
}

function fileMember(name: string, content: Buffer): Buffer {
  const header = encodeTarHeader({ name, type: "file", size: content.length });
  return Buffer.concat([header, content, Buffer.alloc(paddingAfter(content.length))]);
}

describe("encodeTarHeader", () => {
  it("writes one block for a short name", () => {
    const header = encodeTarHeader({ name: "manifest.json", type: "file", size: 10 });
    expect(header.length).toBe(TAR_BLOCK_SIZE);
  });

  it("is read back by tar-stream", async () => {
    const content = Buffer.from("hello\n");
    const archive = Buffer.concat([
      encodeTarHeader({ name: "blobs/", type: "directory", size: 0 }),
      fileMember("blobs/sha256/abc", content),
      Buffer.alloc(END_OF_ARCHIVE_SIZE),
    ]);
    const members = await readArchive(archive);

    expect(members.map((member) => member.header.name)).toEqual(["blobs/", "blobs/sha256/abc"]);
    expect(members[0]!.header.type).toBe("directory");
    expect(members[1]!.header.type).toBe("file");
    expect(members[1]!.header.size).toBe(content.length);
    expect(members[1]!.header.mode).toBe(0o644);
    expect(members[1]!.header.uid).toBe(0);
    expect(members[1]!.header.mtime?.getTime()).toBe(0);
    expect(members[1]!.content.equals(content)).toBe(true);
  });

  it("stores a long name in a PAX header", async () => {
    const name = `blobs/sha512/${"ab".repeat(64)}`;
    const content = Buffer.from("x");
    const archive = Buffer.concat([fileMember(name, content), Buffer.alloc(END_OF_ARCHIVE_SIZE)]);
    const members = await readArchive(archive);

    expect(members).toHaveLength(1);
    expect(members[0]!.header.name).toBe(name);
    expect(members[0]!.content.equals(content)).toBe(true);
  });

  it("stores a multibyte long name", async () => {
    const name = `dir/${"é".repeat(60)}`;
    const members = await readArchive(
      Buffer.concat([fileMember(name, Buffer.from("y")), Buffer.alloc(END_OF_ARCHIVE_SIZE)]),
    );
    expect(members[0]!.header.name).toBe(name);
  });

  it("encodes sizes past 8 GiB in base-256", () => {
    const size = 9 * 1024 ** 3;
    const header = encodeTarHeader({ name: "big", type: "file", size });
    const field = header.subarray(124, 136);

    expect(field[0]).toBe(0x80);
    let decoded = 0n;
    for (const byte of field.subarray(1)) decoded = (decoded << 8n) | BigInt(byte);
    expect(decoded).toBe(BigInt(size));
  });

  it("writes the largest octal size in octal", () => {
    const size = 8 ** 11 - 1;
    const header = encodeTarHeader({ name: "edge", type: "file", size });
    expect(header.subarray(124, 136).toString("ascii")).toBe("77777777777\0");
  });

  it("gives a valid checksum", () => {
    const header = encodeTarHeader({ name: "a", type: "file", size: 3 });
    const stored = parseInt(header.subarray(148, 154).toString("ascii"), 8);
    const copy = Buffer.from(header);
    copy.fill(" ", 148, 156);
    const sum = copy.reduce((total, byte) => total + byte, 0);
    expect(stored).toBe(sum);
  });

  it("rejects a negative size", () => {
    expect(() => encodeTarHeader({ name: "a", type: "file", size: -1 })).toThrow(RangeError);
  });
});

describe("paddingAfter", () => {
  it.each([
    [0, 0],
    [1, 511],
    [511, 1],
    [512, 0],
    [513, 511],
  ])("pads %i bytes with %i", (size, padding) => {
    expect(paddingAfter(size)).toBe(padding);
  });
});
