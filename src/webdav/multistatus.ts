import type { NodeInfo } from "../tree/virtual-tree.js";
import { encodePathHref } from "./href-encoding.js";
import { contentTypeOf, entityTagOf, httpDateOf, timeOf } from "./node-metadata.js";
import { DAV_NAMESPACE, type PropertyName, type PropfindRequest } from "./propfind-body.js";

/** The resource a PROPFIND names: its decoded path and its node. */
export interface PropfindTarget {
  segments: readonly string[];
  node: NodeInfo;
}

/**
 * Returns the content of a live DAV: property of `node`, as escaped XML, or
 * undefined when the property does not apply to it.
 */
type LiveProperty = (node: NodeInfo) => string | undefined;

/**
 * The live properties of every node, in the order allprop lists them. The
 * share has no locks, so supportedlock and lockdiscovery are empty, and no
 * dead properties. creationdate is the modification time, because image
 * files carry no other date.
 */
const LIVE_PROPERTIES = new Map<string, LiveProperty>([
  ["resourcetype", (node) => (node.type === "directory" ? "<D:collection/>" : "")],
  ["displayname", (node) => escapeXml(node.name)],
  ["getlastmodified", (node) => dateTextsOf(node.modified).http],
  ["creationdate", (node) => dateTextsOf(node.modified).rfc3339],
  ["getetag", (node) => escapeXml(entityTagOf(node))],
  ["getcontentlength", (node) => (node.type === "file" ? String(node.size) : undefined)],
  ["getcontenttype", (node) => (node.type === "file" ? escapeXml(contentTypeOf(node)) : undefined)],
  ["supportedlock", () => ""],
  ["lockdiscovery", () => ""],
]);

const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';
const STATUS_OK = "<D:status>HTTP/1.1 200 OK</D:status>";
const STATUS_NOT_FOUND = "<D:status>HTTP/1.1 404 Not Found</D:status>";

/**
 * The properties one request selects, worked out once for all its nodes.
 * Live properties are looked up per node. Unknown names are 404 on every
 * node, so their elements are rendered once, in `unknown`.
 */
interface Selection {
  namesOnly: boolean;
  live: [local: string, property: LiveProperty][];
  unknown: string;
}

/**
 * Renders the 207 multistatus body (RFC 4918, section 13) of a PROPFIND:
 * one DAV:response for the target, then one for each of `members`, the
 * target folder's children, with the properties that `request` selects. A
 * named property that is unknown, or does not apply to the node, goes in a
 * propstat with status 404.
 */
export function renderMultistatus(
  target: PropfindTarget,
  members: readonly NodeInfo[],
  request: PropfindRequest,
): string {
  const selection = selectionOf(request);
  const parts = [XML_DECLARATION, '<D:multistatus xmlns:D="DAV:">'];
  const targetHref = encodePathHref(target.segments, target.node.type === "directory");
  parts.push(responseOf(targetHref, target.node, selection));

  // Members share the target's href as a prefix, so only their own names are encoded.
  const folderHref = encodePathHref(target.segments, true);
  for (const node of members) {
    const suffix = node.type === "directory" ? "/" : "";
    parts.push(responseOf(folderHref + encodeURIComponent(node.name) + suffix, node, selection));
  }
  parts.push("</D:multistatus>\n");
  return parts.join("");
}

function selectionOf(request: PropfindRequest): Selection {
  switch (request.kind) {
    case "propname":
      return { namesOnly: true, live: [...LIVE_PROPERTIES], unknown: "" };
    case "allprop":
      // allprop already lists every live property, so include adds only the unknown names.
      return { namesOnly: false, live: [...LIVE_PROPERTIES], unknown: unknownOf(request.include) };
    case "prop":
      return { namesOnly: false, live: liveOf(request.names), unknown: unknownOf(request.names) };
  }
}

function liveOf(names: readonly PropertyName[]): Selection["live"] {
  const live: Selection["live"] = [];
  for (const name of names) {
    const property = liveProperty(name);
    if (property !== undefined) live.push([name.local, property]);
  }
  return live;
}

function unknownOf(names: readonly PropertyName[]): string {
  return names
    .filter((name) => liveProperty(name) === undefined)
    .map(emptyElementOf)
    .join("");
}

function liveProperty(name: PropertyName): LiveProperty | undefined {
  return name.namespace === DAV_NAMESPACE ? LIVE_PROPERTIES.get(name.local) : undefined;
}

/**
 * Renders one DAV:response, with one propstat for the properties found and
 * one for those missing. `href` is already percent-encoded, which leaves no
 * character that XML would need escaped.
 */
function responseOf(href: string, node: NodeInfo, selection: Selection): string {
  let found = "";
  let missing = "";
  for (const [local, property] of selection.live) {
    const content = property(node);
    if (content === undefined) {
      if (!selection.namesOnly) missing += `<D:${local}/>`;
    } else if (selection.namesOnly || content === "") {
      found += `<D:${local}/>`;
    } else {
      found += `<D:${local}>${content}</D:${local}>`;
    }
  }
  missing += selection.unknown;

  let response = `<D:response><D:href>${href}</D:href>`;
  if (found !== "") response += propstat(found, STATUS_OK);
  if (missing !== "") response += propstat(missing, STATUS_NOT_FOUND);
  return response + "</D:response>";
}

function propstat(properties: string, status: string): string {
  return `<D:propstat><D:prop>${properties}</D:prop>${status}</D:propstat>`;
}

/**
 * Renders an empty element of any namespace. A namespace other than DAV:
 * gets the prefix P, declared on the element itself, and no namespace gets
 * no prefix, which is correct because the body declares no default namespace.
 */
function emptyElementOf(name: PropertyName): string {
  if (name.namespace === DAV_NAMESPACE) return `<D:${name.local}/>`;
  if (name.namespace === "") return `<${name.local}/>`;
  return `<P:${name.local} xmlns:P="${escapeAttribute(name.namespace)}"/>`;
}

interface DateTexts {
  /** The HTTP date, as in Last-Modified. */
  http: string;
  /** RFC 3339 date-time in UTC with whole seconds, as creationdate requires. */
  rfc3339: string;
}

/** Maximum distinct times kept formatted; the memo starts over when full. */
const MAX_DATE_TEXTS = 10_000;

/** Formatted times by milliseconds, since many files of an image share a modification time. */
const dateTexts = new Map<number, DateTexts>();

function dateTextsOf(date: Date): DateTexts {
  const time = timeOf(date);
  let texts = dateTexts.get(time);
  if (texts === undefined) {
    if (dateTexts.size >= MAX_DATE_TEXTS) dateTexts.clear();
    texts = { http: httpDateOf(date), rfc3339: new Date(time).toISOString().slice(0, 19) + "Z" };
    dateTexts.set(time, texts);
  }
  return texts;
}

const TEXT_SPECIAL_CHARACTERS = /[&<>]/;

/** Escapes text for XML character data, where quotes need no escaping. */
function escapeXml(text: string): string {
  if (!TEXT_SPECIAL_CHARACTERS.test(text)) return text;
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Escapes text for a double-quoted XML attribute value. */
function escapeAttribute(text: string): string {
  return escapeXml(text).replace(/"/g, "&quot;");
}
