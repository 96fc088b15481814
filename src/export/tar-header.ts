/**
 * Writer of tar headers for the archives regdav builds. Every header has the
 * same owner (0:0), permission bits and modification time (the epoch). So an
 * archive built twice from the same content is the same bytes, and a byte
 * range of it can be served without reading what comes before.
 */

export const TAR_BLOCK_SIZE = 512;

/** Two zero blocks, which end a tar archive. */
export const END_OF_ARCHIVE_SIZE = 2 * TAR_BLOCK_SIZE;

export interface TarMember {
  /** Path inside the archive, `/`-separated. A folder's path ends with `/`. */
  name: string;
  type: "file" | "directory";
  /** Content bytes, 0 for a folder. */
  size: number;
}

const nameFieldBytes = 100;
/** Largest size the 11 octal digits of the ustar size field can hold: 8 GiB - 1. */
const maxOctalSize = 8 ** 11 - 1;

/**
 * Encodes the header blocks of one member: a ustar header, preceded by a PAX
 * extended header when the name does not fit the 100-byte name field. Sizes
 * above 8 GiB use the base-256 form of the size field, which GNU tar and Go's
 * archive/tar (used by docker and skopeo) read.
 */
export function encodeTarHeader(member: TarMember): Buffer {
  const nameBytes = Buffer.byteLength(member.name);
  if (nameBytes <= nameFieldBytes) return ustarBlock(member.name, member.type, member.size);

  const records = paxRecord("path", member.name);
  const paxName = `PaxHeaders/${member.name.slice(-80).replace(/^\/+/, "")}`;
  const paxHeader = ustarBlock(truncateUtf8(paxName, nameFieldBytes), "pax", records.length);
  const shortName = truncateUtf8(member.name, nameFieldBytes);
  return Buffer.concat([
    paxHeader,
    records,
    Buffer.alloc(paddingAfter(records.length)),
    ustarBlock(shortName, member.type, member.size),
  ]);
}

/** Returns how many zero bytes follow `size` bytes of content to reach the next block. */
export function paddingAfter(size: number): number {
  const remainder = size % TAR_BLOCK_SIZE;
  return remainder === 0 ? 0 : TAR_BLOCK_SIZE - remainder;
}

type BlockType = TarMember["type"] | "pax";

const typeFlags: Record<BlockType, string> = { file: "0", directory: "5", pax: "x" };

function ustarBlock(name: string, type: BlockType, size: number): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  block.write(name, 0, nameFieldBytes, "utf8");
  writeOctal(block, 100, 8, type === "directory" ? 0o755 : 0o644);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeSize(block, type === "directory" ? 0 : size);
  writeOctal(block, 136, 12, 0); // mtime: the epoch
  block.write(typeFlags[type], 156, 1, "ascii");
  block.write("ustar\0", 257, 6, "ascii");
  block.write("00", 263, 2, "ascii");
  writeChecksum(block);
  return block;
}

/** Writes a number as zero-padded octal digits followed by a NUL, filling `length` bytes. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, "0");
  block.write(digits + "\0", offset, length, "ascii");
}

function writeSize(block: Buffer, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`tar member size ${size} is not a non-negative integer`);
  }
  if (size <= maxOctalSize) {
    writeOctal(block, 124, 12, size);
    return;
  }

  // Base-256: the high bit of the first byte set, then the value big-endian.
  let value = BigInt(size);
  for (let position = 135; position > 124; position--) {
    block[position] = Number(value & 0xffn);
    value >>= 8n;
  }
  block[124] = 0x80;
}

/** Writes the checksum: the byte sum of the block with its own field read as eight spaces. */
function writeChecksum(block: Buffer): void {
  block.fill(" ", 148, 156, "ascii");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
}

/**
 * Encodes one PAX record, `<length> <key>=<value>\n`, where the length
 * counts the whole record, its own digits included.
 */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return Buffer.from(`${length}${body}`);
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let result = "";
  for (const character of text) {
    if (Buffer.byteLength(result + character) > maxBytes) break;
    result += character;
  }
  return result;
}
