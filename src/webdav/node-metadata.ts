import type { NodeInfo } from "../tree/virtual-tree.js";

/**
 * Response metadata derived from a NodeInfo. GET, HEAD and PROPFIND use the
 * same functions, so a client sees one ETag and one type for each node.
 */

const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** Characters allowed inside the quotes of an entity tag (RFC 9110, etagc), minus obs-text. */
const ENTITY_TAG_CHARACTERS = /[^\x21\x23-\x7e]/g;

/** A quoted entity tag that needs no cleaning, as the tree's tags usually are. */
const QUOTED_ENTITY_TAG = /^"[\x21\x23-\x7e]*"$/;

/**
 * Returns the node's entity tag, quoted. The tree's etag is used when it has
 * one; otherwise the tag is derived from size and modification time. Characters
 * that an entity tag cannot contain are dropped, because setting such a header
 * throws in node:http.
 */
export function entityTagOf(node: NodeInfo): string {
  if (node.etag !== undefined && QUOTED_ENTITY_TAG.test(node.etag)) return node.etag;
  const source = node.etag ?? `${node.size.toString(16)}-${timeOf(node.modified).toString(16)}`;
  const opaque = source.replace(/^"(.*)"$/, "$1").replace(ENTITY_TAG_CHARACTERS, "");
  return `"${opaque}"`;
}

/**
 * Returns the node's media type, or application/octet-stream when it has
 * none or its type is not a valid header value.
 */
export function contentTypeOf(node: NodeInfo): string {
  const type = node.contentType;
  if (type === undefined || !/^[\x20-\x7e]+\/[\x20-\x7e]+$/.test(type)) return DEFAULT_CONTENT_TYPE;
  return type;
}

/** Returns the modification time as an HTTP date; an invalid Date becomes the Unix epoch. */
export function httpDateOf(date: Date): string {
  return new Date(timeOf(date)).toUTCString();
}

/** Returns milliseconds since the Unix epoch, or 0 for an invalid Date. */
export function timeOf(date: Date): number {
  const time = date.getTime();
  return Number.isFinite(time) ? time : 0;
}
