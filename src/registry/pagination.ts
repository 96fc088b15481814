import type { IncomingHttpHeaders } from "undici/types/header.js";

/**
 * Pagination by the Link header (RFC 8288), as the distribution spec uses
 * for `/v2/_catalog` and `/tags/list`: `<url>; rel="next"`, where the URL is
 * usually relative, such as `</v2/_catalog?last=b&n=2>`.
 */

/** Returns the `rel="next"` target resolved against the request URL; undefined on the last page. */
export function nextPageUrl(headers: IncomingHttpHeaders, requestUrl: URL): URL | undefined {
  const header = headers.link;
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const link of splitLinks(value)) {
      if (!hasNextRelation(link.params)) continue;
      try {
        return new URL(link.target, requestUrl);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

interface Link {
  target: string;
  params: string;
}

/** Splits `<a>; rel="next", <b>; rel="prev"` at the commas outside `<...>` and quotes. */
function splitLinks(value: string): Link[] {
  const links: Link[] = [];
  const pattern = /<([^>]*)>((?:[^,"]|"(?:[^"\\]|\\.)*")*)/g;
  for (const match of value.matchAll(pattern)) {
    links.push({ target: match[1]!.trim(), params: match[2] ?? "" });
  }
  return links;
}

/** Tests the `rel` parameter, which may be quoted and list several space-separated relations. */
function hasNextRelation(params: string): boolean {
  const match = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
  const relations = (match?.[1] ?? match?.[2] ?? "").toLowerCase().split(/\s+/);
  return relations.includes("next");
}
