import type { Readable } from "node:stream";
import { notFound } from "../errors.js";
import { log } from "../log.js";
import type { ByteRange, FoundNode, NodeInfo } from "../tree/virtual-tree.js";
import { lengthOf, selectRange, type RangeSelection } from "./byte-range.js";
import { isNotModified, isRangeAllowed, type Validators } from "./conditional-request.js";
import { readExactly, streamExactly } from "./file-stream.js";
import { serveFileAsPage, serveFolderPage } from "./html/serve-page.js";
import { contentTypeOf, entityTagOf, httpDateOf } from "./node-metadata.js";
import type { ShareRequest } from "./share-request.js";

/**
 * Largest body, in bytes, read into memory before the response starts. Such
 * a body leaves in one write with the headers and needs no stream pipeline.
 */
const MAX_BUFFERED_BODY_BYTES = 64 * 1024;

type FileOpener = (range?: ByteRange) => Promise<Readable>;

/**
 * Serves GET and HEAD. A file is served from one tree.lookup, or tree.stat and
 * tree.read, with one byte range, conditional requests and validators. A
 * folder gets an HTML listing, and a browser gets pages for files too (see
 * serveFileAsPage). HEAD sends the headers that GET would, without the body.
 */
export async function serveGet(share: ShareRequest): Promise<void> {
  const found = await findNode(share);
  const node = found.info;
  if (node.type === "directory") {
    await serveFolderPage(share);
    return;
  }
  if (share.trailingSlash) {
    throw notFound(`${JSON.stringify(node.name)} is a file, but the request path ends with "/"`);
  }
  if (await serveFileAsPage(share, node)) return;
  await serveFile(share, node, found.open ?? ((range) => share.tree.read(share.segments, range)));
}

/** Finds the target with one walk when the tree offers lookup, else with stat. */
async function findNode(share: ShareRequest): Promise<FoundNode> {
  if (share.tree.lookup !== undefined) return share.tree.lookup(share.segments);
  return { info: await share.tree.stat(share.segments) };
}

async function serveFile(share: ShareRequest, node: NodeInfo, open: FileOpener): Promise<void> {
  const { request, response } = share;
  const validators: Validators = {
    entityTag: entityTagOf(node),
    lastModified: httpDateOf(node.modified),
  };

  if (isNotModified(request.headers, validators)) {
    response.writeHead(304, {
      ETag: validators.entityTag,
      "Last-Modified": validators.lastModified,
    });
    response.end();
    return;
  }

  const selection = isRangeAllowed(request.headers, validators)
    ? selectRange(request.headers.range, node.size)
    : { kind: "whole" as const };
  const length = selection.kind === "partial" ? lengthOf(selection.range) : node.size;
  const headers = fileHeaders(node, validators, selection, length);

  if (share.method === "HEAD" || length === 0) {
    response.writeHead(selection.kind === "partial" ? 206 : 200, headers);
    response.end();
    return;
  }

  // Opened before the headers go out, so a failure to open still gets a proper error status.
  const source = await open(selection.kind === "partial" ? selection.range : undefined);
  const status = selection.kind === "partial" ? 206 : 200;
  if (length <= MAX_BUFFERED_BODY_BYTES) {
    // Read whole before the headers, so a failed read is an error response, not a cut-off body.
    const body = await readExactly(source, length);
    response.writeHead(status, headers);
    response.end(body);
    return;
  }
  response.writeHead(status, headers);
  await sendFileBody(share, source, length);
}

function fileHeaders(
  node: NodeInfo,
  validators: Validators,
  selection: RangeSelection,
  length: number,
): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    "Accept-Ranges": "bytes",
    ETag: validators.entityTag,
    "Last-Modified": validators.lastModified,
    "Content-Type": contentTypeOf(node),
    "Content-Length": length,
    // Files come from untrusted images: keep a browser from running them as pages of the share.
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
  };
  if (selection.kind === "partial") {
    headers["Content-Range"] = `bytes ${selection.range.start}-${selection.range.end}/${node.size}`;
  }
  return headers;
}

/**
 * Sends the file body and logs a failure instead of throwing it, because the
 * headers are sent and the aborted connection already signals the failure.
 */
async function sendFileBody(share: ShareRequest, source: Readable, length: number): Promise<void> {
  try {
    await streamExactly(source, share.response, length);
  } catch (error) {
    const path = "/" + share.segments.join("/");
    if ((error as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") {
      // Usually the client hanging up, which is no fault of the share.
      log.debug("connection closed before the file body was complete", { path });
      return;
    }
    log.warn("aborted a response because its file stream failed", {
      path,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
