import { escapeHtml } from "./escape-html.js";

const SIZE_UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** Formats a byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${SIZE_UNITS[unit]}`;
}

/** Renders a size with the exact byte count as its tooltip. */
export function sizeHtml(bytes: number): string {
  return `<span title="${bytes} bytes">${formatSize(bytes)}</span>`;
}

/**
 * Renders a time as `YYYY-MM-DD HH:MM UTC` in a `<time>` element. An
 * invalid date, or text that is not a date, is shown as written.
 */
export function timeHtml(time: Date | string): string {
  const date = typeof time === "string" ? new Date(time) : time;
  if (!Number.isFinite(date.getTime())) return escapeHtml(String(time));
  const iso = date.toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}
