/**
 * RFC 3339 timestamps as Go's time.Time.MarshalText writes them:
 * `2006-01-02T15:04:05.999999999Z07:00`, with 0 to 9 fraction digits and
 * `Z` or a `+hh:mm` / `-hh:mm` offset.
 */
const GREGORIAN_400_YEARS_MS = 146_097 * 86_400_000;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Go's zero time.Time, which soci writes when a tar header has no modification time. */
const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

/**
 * Parses a timestamp into milliseconds since the epoch, the fraction cut to
 * whole milliseconds. Returns undefined for text that is not such a
 * timestamp or names a day that does not exist, and 0 for Go's zero time.
 */
export function parseRfc3339(text: string): number | undefined {
  if (text === GO_ZERO_TIME) return 0;
  // Fixed positions: YYYY-MM-DDTHH:MM:SS, then the fraction and the offset.
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const separators = text[4] === "-" && text[7] === "-" && text[10] === "T" && text[13] === ":" && text[16] === ":";
  if (!separators || year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;

  let position = 19;
  let milliseconds = 0;
  if (text[position] === ".") {
    const fractionStart = ++position;
    while (position < text.length && position - fractionStart < 9 && isDigit(text.charCodeAt(position))) position++;
    const fractionDigits = position - fractionStart;
    if (fractionDigits === 0) return undefined;
    milliseconds = Number(text.slice(fractionStart, fractionStart + Math.min(3, fractionDigits)).padEnd(3, "0"));
  }

  let offsetMinutes = 0;
  const zone = text[position];
  if (zone === "Z" && position + 1 === text.length) offsetMinutes = 0;
  else if ((zone === "+" || zone === "-") && position + 6 === text.length && text[position + 3] === ":") {
    const offsetHours = digitsAt(text, position + 1, 2);
    const offsetRest = digitsAt(text, position + 4, 2);
    if (offsetHours < 0 || offsetHours > 23 || offsetRest < 0 || offsetRest > 59) return undefined;
    offsetMinutes = (zone === "-" ? -1 : 1) * (offsetHours * 60 + offsetRest);
  } else return undefined;

  // Date.UTC maps years 0-99 to 1900-1999, so those are computed 400 years
  // later, a span of exactly 146097 days in the Gregorian calendar.
  const early = year < 100;
  const utc = Date.UTC(early ? year + 400 : year, month - 1, day, hour, minute, second, milliseconds) - (early ? GREGORIAN_400_YEARS_MS : 0);
  return utc - offsetMinutes * 60_000;
}

/** Reads `count` decimal digits at `start`, or returns -1 when one of them is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    value = value * 10 + (code - 48);
  }
  return value;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}
