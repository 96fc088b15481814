import type { IncomingHttpHeaders } from "node:http";
import { RegdavError } from "../errors.js";
import { DavConditionError } from "./error-response.js";

/** Largest PROPFIND body accepted, in bytes; a property request is a few hundred. */
export const PROPFIND_BODY_LIMIT = 64 * 1024;

/**
 * Maximum XML elements in a PROPFIND body. Clients name about 5 to 30
 * properties, and each name adds an element to the response of every node
 * listed: 120 unknown names on a folder of 20,000 files built a 61 MB body
 * in about 0.4 s (measured on Node 20, on a 2-core VM).
 */
export const PROPFIND_MAX_ELEMENTS = 128;

/**
 * Maximum children that a Depth 1 PROPFIND lists. An allprop listing of
 * 20,000 files took about 0.35 s, in which the server serves no other
 * request, and built a 10 MB body (measured on Node 20, on a 2-core VM). A
 * hostile image can put a million entries into one folder.
 */
export const PROPFIND_MAX_CHILDREN = 20_000;

/** Largest body accepted on GET, HEAD and OPTIONS, which take none. */
export const BODYLESS_METHOD_BODY_LIMIT = 1024;

export type PropfindDepth = 0 | 1;

/**
 * Returns the largest request body, in bytes, that `method` may carry, or
 * undefined for methods the share rejects without reading their body.
 */
export function bodyLimitOf(method: string): number | undefined {
  if (method === "PROPFIND") return PROPFIND_BODY_LIMIT;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
    return BODYLESS_METHOD_BODY_LIMIT;
  }
  return undefined;
}

/**
 * Throws RegdavError PAYLOAD_TOO_LARGE when the declared Content-Length
 * exceeds `limit`. This runs before any byte of the body is read, so a
 * client cannot make the server allocate what it declares.
 */
export function checkDeclaredLength(
  method: string,
  headers: IncomingHttpHeaders,
  limit: number,
): void {
  const declared = headers["content-length"];
  if (declared === undefined) return;

  const length = Number(declared);
  if (length > limit) throw bodyTooLarge(method, limit, `declares ${declared} bytes`);
}

export function bodyTooLarge(method: string, limit: number, detail: string): RegdavError {
  return new RegdavError(
    "PAYLOAD_TOO_LARGE",
    `request body too large: the ${method} body ${detail}, and the limit is ${limit} bytes`,
  );
}

/**
 * Throws RegdavError BAD_REQUEST when a PROPFIND body has more than
 * PROPFIND_MAX_ELEMENTS start tags. Counting `<` before a name is an upper
 * bound on the elements that needs no XML parser.
 */
export function checkPropfindElements(body: string): void {
  const count = body.match(/<[^/!?]/g)?.length ?? 0;
  if (count <= PROPFIND_MAX_ELEMENTS) return;
  throw new RegdavError(
    "BAD_REQUEST",
    `PROPFIND body has ${count} XML elements, more than the ${PROPFIND_MAX_ELEMENTS} allowed; ` +
      "request fewer properties",
  );
}

/**
 * Throws RegdavError FORBIDDEN when a folder has more than
 * PROPFIND_MAX_CHILDREN children for a Depth 1 PROPFIND to list.
 */
export function checkListingSize(segments: readonly string[], children: number): void {
  if (children <= PROPFIND_MAX_CHILDREN) return;
  const path = JSON.stringify("/" + segments.join("/"));
  throw new RegdavError(
    "FORBIDDEN",
    `folder ${path} has ${children} entries, more than the ${PROPFIND_MAX_CHILDREN} that ` +
      "PROPFIND lists; open its files by path, or read the layer's raw tar file",
  );
}

/**
 * Parses the Depth header of a PROPFIND. A missing header means 1, not the
 * infinity of RFC 4918, so no request walks the whole tree. `infinity`
 * throws a 403 DavConditionError propfind-finite-depth, and any other value
 * throws RegdavError BAD_REQUEST.
 */
export function parsePropfindDepth(header: string | string[] | undefined): PropfindDepth {
  // Repeated Depth headers arrive as an array; joined, they match no valid value.
  const text = Array.isArray(header) ? header.join(", ") : header;
  const value = text?.trim().toLowerCase();
  if (value === undefined || value === "1") return 1;
  if (value === "0") return 0;
  if (value === "infinity") {
    throw new DavConditionError(
      "propfind-finite-depth",
      "PROPFIND with Depth: infinity is not supported; use Depth: 0 or 1",
    );
  }
  throw new RegdavError(
    "BAD_REQUEST",
    `invalid Depth header ${JSON.stringify(text)}; expected 0, 1 or infinity`,
  );
}
