import { notFound, RegdavError } from "../errors.js";
import type { NodeInfo } from "../tree/virtual-tree.js";
import { NodeLookup } from "./node-lookup.js";
import { readBoundedBody } from "./request-body.js";
import {
  checkListingSize,
  checkPropfindElements,
  PROPFIND_BODY_LIMIT,
} from "./request-guards.js";
import type { ShareRequest } from "./share-request.js";

/**
 * Responds to PROPFIND with a 207 multistatus built by webdav-server. The target
 * and, for a folder at Depth 1, its listing are fetched first, so a tree
 * error becomes the status from httpStatusOf with its message as the body,
 * instead of webdav-server's bare 500.
 */
export async function servePropfind(share: ShareRequest): Promise<void> {
  const bytes = await readBoundedBody(share.request, share.response, PROPFIND_BODY_LIMIT);
  const body = bytes.toString("utf8");
  checkPropfindElements(body);
  const lookup = new NodeLookup(share.tree);
  await fetchTarget(share, lookup);

  const outcome = await share.propfind.run({
    segments: share.segments,
    depth: share.depth,
    body,
    lookup,
  });
  const failure = lookup.failureFor(outcome.status);
  if (failure !== undefined) throw failure;
  if (outcome.status !== 207) {
    const path = JSON.stringify("/" + share.segments.join("/"));
    throw new RegdavError(
      "INTERNAL",
      `webdav-server returned status ${outcome.status} for PROPFIND ${path}`,
    );
  }

  share.response.writeHead(207, {
    DAV: "1",
    "Content-Type": "application/xml; charset=utf-8",
    "Content-Length": Buffer.byteLength(outcome.body),
  });
  share.response.end(outcome.body);
}

async function fetchTarget(share: ShareRequest, lookup: NodeLookup): Promise<NodeInfo> {
  const node = await lookup.stat(share.segments);
  if (node.type === "file" && share.trailingSlash) {
    throw notFound(`${JSON.stringify(node.name)} is a file, but the request path ends with "/"`);
  }
  if (node.type === "directory" && share.depth === 1) {
    const children = await lookup.list(share.segments);
    checkListingSize(share.segments, children.length);
  }
  return node;
}
