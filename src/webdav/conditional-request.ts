import type { IncomingHttpHeaders } from "node:http";

/** The validators of one file response. */
export interface Validators {
  /** Quoted strong entity tag. */
  entityTag: string;
  /** HTTP date, whole seconds. */
  lastModified: string;
}

/**
 * Returns whether a GET or HEAD gets 304 Not Modified (RFC 9110, section
 * 13.2.2). If-None-Match is compared weakly and `*` matches; If-Modified-Since
 * counts only when If-None-Match is absent.
 */
export function isNotModified(headers: IncomingHttpHeaders, validators: Validators): boolean {
  const noneMatch = headers["if-none-match"];
  if (noneMatch !== undefined) return matchesAnyTag(noneMatch, validators.entityTag);

  const modifiedSince = headers["if-modified-since"];
  if (modifiedSince === undefined) return false;
  const since = Date.parse(modifiedSince);
  return Number.isFinite(since) && Date.parse(validators.lastModified) <= since;
}

/**
 * Returns whether the Range header may be used. With If-Range it may only
 * when the validator still matches: an entity tag by strong comparison, a
 * date when it equals Last-Modified exactly. Otherwise the whole file is sent.
 */
export function isRangeAllowed(headers: IncomingHttpHeaders, validators: Validators): boolean {
  const header = headers["if-range"];
  const ifRange = (Array.isArray(header) ? header.join(", ") : header)?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith("W/")) return ifRange === validators.entityTag;
  return ifRange === validators.lastModified;
}

function matchesAnyTag(list: string, entityTag: string): boolean {
  if (list.trim() === "*") return true;
  const expected = opaqueTagOf(entityTag);
  return list.split(",").some((tag) => opaqueTagOf(tag.trim()) === expected);
}

/** Strips the weak prefix, so that tags compare weakly. */
function opaqueTagOf(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}
