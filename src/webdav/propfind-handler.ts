import { notFound } from "../errors.js";
import { log } from "../log.js";
import type { NodeInfo } from "../tree/virtual-tree.js";
import { renderMultistatus } from "./multistatus.js";
import { parsePropfindBody } from "./propfind-body.js";
import { readBoundedBody } from "./request-body.js";
import { checkListingSize, PROPFIND_BODY_LIMIT } from "./request-guards.js";
import { isServableName } from "./segment-rules.js";
import type { ShareRequest } from "./share-request.js";

/**
 * Responds to PROPFIND with a 207 multistatus of the target and, for a
 * folder at Depth 1, its children. The body is parsed before the tree is
 * read, so a malformed body is a 400 whatever the path. A tree error
 * becomes the status from httpStatusOf with its message as the body.
 */
export async function servePropfind(share: ShareRequest): Promise<void> {
  const bytes = await readBoundedBody(share.request, share.response, PROPFIND_BODY_LIMIT);
  const request = parsePropfindBody(bytes);
  const node = await share.tree.stat(share.segments);
  if (node.type === "file" && share.trailingSlash) {
    throw notFound(`${JSON.stringify(node.name)} is a file, but the request path ends with "/"`);
  }
  const members = node.type === "directory" && share.depth === 1 ? await membersOf(share) : [];

  const body = renderMultistatus({ segments: share.segments, node }, members, request);
  share.response.writeHead(207, {
    DAV: "1",
    "Content-Type": "application/xml; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  share.response.end(body);
}

/** Lists the target folder's children for Depth 1. */
async function membersOf(share: ShareRequest): Promise<NodeInfo[]> {
  const children = await share.tree.list(share.segments);
  checkListingSize(share.segments, children.length);
  return servableChildren(share.segments, children);
}

/** Leaves out children whose names a request path cannot contain, so every href works. */
function servableChildren(segments: readonly string[], children: NodeInfo[]): NodeInfo[] {
  const servable = children.filter((child) => isServableName(child.name));
  if (servable.length < children.length) {
    log.debug("left names out of a listing that a request path cannot contain", {
      folder: "/" + segments.join("/"),
      omitted: children.length - servable.length,
    });
  }
  return servable;
}
