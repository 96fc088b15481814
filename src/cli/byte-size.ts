import { UsageError } from "./usage-error.js";

const UNIT_BYTES: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Reads a size in bytes, such as `1048576`, `500MiB` or `10GiB`. KiB, MiB,
 * GiB and TiB are powers of 1024; KB, MB, GB and TB powers of 1000. Throws
 * UsageError naming the option and the value.
 */
export function parseByteSize(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = UNIT_BYTES[match?.[2]?.toLowerCase() ?? "?"];
  if (!match || unit === undefined) {
    throw new UsageError(`invalid ${option} ${JSON.stringify(text)}: use bytes or a unit, such as 500MiB or 10GiB`);
  }
  return Math.floor(Number(match[1]) * unit);
}
