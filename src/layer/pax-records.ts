import { decodeTarText } from "./tar-header.js";

/**
 * Parser for POSIX PAX extended header records (`"<length> <key>=<value>\n"`,
 * the length counting the whole record in bytes) and the overrides they set
 * for the member that follows.
 */

/** The PAX keys the layer index uses; every other key is ignored. */
export interface PaxOverrides {
  path?: string;
  linkPath?: string;
  size?: number;
  /** Milliseconds since the epoch. */
  modified?: number;
}

/** Parses records into a key-value map; a later record for a key replaces an earlier one. */
export function parsePaxRecords(
  data: Buffer,
  fail: (problem: string) => Error,
): Map<string, string> {
  return new Map(parsePaxRecordList(data, fail));
}

/** Parses records into key-value pairs in their order, repeated keys included. */
export function parsePaxRecordList(
  data: Buffer,
  fail: (problem: string) => Error,
): [string, string][] {
  const records: [string, string][] = [];
  let position = 0;
  while (position < data.length) {
    if (data[position] === 0) break;
    const space = data.indexOf(0x20, position);
    const lengthText = space < 0 ? "" : data.toString("latin1", position, space);
    const length = parseDecimal(lengthText);
    const end = position + length;
    if (!(length > 0) || end > data.length || space >= end || data[end - 1] !== 0x0a) {
      throw fail(`malformed PAX record at byte ${position} of the extended header`);
    }

    const record = data.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) {
      throw fail(`PAX record without a key at byte ${position} of the extended header`);
    }
    records.push([record.toString("utf8", 0, equals), decodeTarText(record.subarray(equals + 1))]);
    position = end;
  }
  return records;
}

/**
 * Reads the overrides from parsed records. An empty value means "use the
 * header field", as POSIX defines for a deleted keyword.
 */
export function readPaxOverrides(
  records: Map<string, string>,
  fail: (problem: string) => Error,
): PaxOverrides {
  const overrides: PaxOverrides = {};
  for (const [key, value] of records) {
    if (value === "") continue;
    if (key === "path") overrides.path = value;
    if (key === "linkpath") overrides.linkPath = value;
    if (key === "size") overrides.size = parsePaxSize(value, fail);
    if (key === "mtime") overrides.modified = parsePaxTime(value, fail);
  }
  return overrides;
}

/** Parses decimal digits, as PAX and GNU sparse records write numbers; returns NaN for others. */
export function parseDecimal(text: string): number {
  return /^[0-9]+$/.test(text) ? Number(text) : NaN;
}

function parsePaxSize(value: string, fail: (problem: string) => Error): number {
  const size = parseDecimal(value);
  if (!Number.isSafeInteger(size)) throw fail(`invalid PAX size ${JSON.stringify(value)}`);
  return size;
}

/** Parses decimal seconds with an optional fraction (`1650812345.25`) into milliseconds. */
function parsePaxTime(value: string, fail: (problem: string) => Error): number {
  const match = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(value);
  if (!match) throw fail(`invalid PAX mtime ${JSON.stringify(value)}`);

  const seconds = Number(match[2]);
  const milliseconds = Number((match[3] ?? "").padEnd(3, "0").slice(0, 3));
  const magnitude = seconds * 1000 + milliseconds;
  if (!Number.isSafeInteger(magnitude)) {
    throw fail(`PAX mtime ${JSON.stringify(value)} is out of range`);
  }
  return match[1] === "-" ? -magnitude : magnitude;
}
