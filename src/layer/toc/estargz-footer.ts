import { TocUnusableError } from "./toc-error.js";

/** Bytes of an eStargz footer: an empty gzip member whose extra field contains the TOC offset. */
export const ESTARGZ_FOOTER_SIZE = 51;
/** Bytes of the footer of the older stargz format, which eStargz readers also accept. */
export const LEGACY_STARGZ_FOOTER_SIZE = 47;

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const FLAG_EXTRA = 0x04;
const SUFFIX = "STARGZ";
/** The payload: 16 hex digits of the TOC offset, then "STARGZ". */
const PAYLOAD_LENGTH = 16 + SUFFIX.length;

/**
 * Parses the tail of an eStargz blob and returns the TOC's offset and the
 * footer's size. `tail` contains the last bytes of the blob, at least
 * ESTARGZ_FOOTER_SIZE of them when the blob is that long. The 51-byte
 * footer carries the payload in an extra subfield with ID `S`,`G`; the
 * 47-byte legacy footer carries it as the whole extra field.
 *
 * Throws TocUnusableError when neither footer is there.
 */
export function parseEstargzFooter(tail: Buffer): { tocOffset: number; footerSize: number } {
  if (tail.length >= ESTARGZ_FOOTER_SIZE) {
    const footer = tail.subarray(tail.length - ESTARGZ_FOOTER_SIZE);
    const payload = subfieldPayload(footer);
    if (payload !== undefined) return { tocOffset: parsePayload(payload), footerSize: ESTARGZ_FOOTER_SIZE };
  }
  if (tail.length >= LEGACY_STARGZ_FOOTER_SIZE) {
    const footer = tail.subarray(tail.length - LEGACY_STARGZ_FOOTER_SIZE);
    const payload = legacyPayload(footer);
    if (payload !== undefined) return { tocOffset: parsePayload(payload), footerSize: LEGACY_STARGZ_FOOTER_SIZE };
  }
  if (tail.length < LEGACY_STARGZ_FOOTER_SIZE) {
    throw new TocUnusableError(`the blob is ${tail.length} bytes, too short for an eStargz footer`);
  }
  throw new TocUnusableError("no eStargz footer at the end of the blob: its last gzip member carries no STARGZ extra field");
}

/** Returns the extra field of a gzip header at the start of `member`, or undefined. */
function extraField(member: Buffer): Buffer | undefined {
  if (!GZIP_MAGIC.every((byte, position) => member[position] === byte)) return undefined;
  if (((member[3] ?? 0) & FLAG_EXTRA) === 0) return undefined;
  const length = member.readUInt16LE(10);
  if (12 + length > member.length) return undefined;
  return member.subarray(12, 12 + length);
}

function subfieldPayload(footer: Buffer): string | undefined {
  const extra = extraField(footer);
  if (!extra || extra.length !== 4 + PAYLOAD_LENGTH) return undefined;
  if (extra[0] !== 0x53 || extra[1] !== 0x47 || extra.readUInt16LE(2) !== PAYLOAD_LENGTH) return undefined;
  return payloadText(extra.subarray(4));
}

function legacyPayload(footer: Buffer): string | undefined {
  const extra = extraField(footer);
  if (!extra || extra.length !== PAYLOAD_LENGTH) return undefined;
  return payloadText(extra);
}

function payloadText(payload: Buffer): string | undefined {
  const text = payload.toString("latin1");
  return text.endsWith(SUFFIX) ? text : undefined;
}

function parsePayload(payload: string): number {
  const hex = payload.slice(0, 16);
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) {
    throw new TocUnusableError(`the eStargz footer's TOC offset ${JSON.stringify(hex)} is not 16 hex digits`);
  }
  const offset = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(offset)) throw new TocUnusableError(`the eStargz footer's TOC offset ${hex} is too large`);
  return offset;
}
