// Summaries of repeated measurements and the units they are printed in.

/** Returns the median of a non-empty list of numbers. */
export function median(values) {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Formats a duration in milliseconds with three significant digits and a unit. */
export function formatMs(ms) {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Formats a byte count in MiB (or GiB from 10 GiB on), or in kB below 1 MiB. */
export function formatBytes(bytes) {
  const mebibytes = bytes / 2 ** 20;
  if (mebibytes >= 10_240) return `${(mebibytes / 1024).toFixed(1)} GiB`;
  if (mebibytes >= 1) return `${mebibytes.toFixed(mebibytes >= 100 ? 0 : 1)} MiB`;
  return `${(bytes / 1000).toFixed(1)} kB`;
}

/** Formats a value in the unit of its series: "ms" or "bytes". */
export function formatValue(value, unit) {
  return unit === "bytes" ? formatBytes(value) : formatMs(value);
}

/** Formats regdav's median divided by the alternative's, as "0.12x". */
export function formatRatio(regdavMedian, alternativeMedian) {
  const ratio = regdavMedian / alternativeMedian;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 1 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}
