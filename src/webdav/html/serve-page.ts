import type { Readable } from "node:stream";

import { log } from "../../log.js";
import type { FolderDescription } from "../../tree/folder-description.js";
import type { NodeInfo } from "../../tree/virtual-tree.js";
import { renderFolderListing } from "../folder-listing.js";
import type { ShareRequest } from "../share-request.js";
import { wantsHtmlView } from "./browser-request.js";
import { isText, renderJsonPage, renderTextPage } from "./file-page.js";
import { PAGE_CONTENT_SECURITY_POLICY } from "./page-assets.js";
import { isImageMetadataFile } from "./repository-links.js";

/** Largest manifest, index or config pretty-printed for a browser, in bytes. */
const MAX_JSON_PAGE_BYTES = 4 * 1024 * 1024;

/** Largest other file shown as a text page, in bytes; larger files are sent as they are. */
const MAX_TEXT_PAGE_BYTES = 1024 * 1024;

/**
 * Serves a folder's HTML listing. A browser also gets the image header,
 * which may download the config blob, so other clients get the listing
 * alone.
 */
export async function serveFolderPage(share: ShareRequest): Promise<void> {
  const children = await share.tree.list(share.segments);
  const description = wantsHtmlView(share.request) ? await describe(share) : undefined;
  sendPage(share, renderFolderListing(share.segments, children, description));
}

/**
 * Serves a file as a page when a browser requests one (see wantsHtmlView)
 * and returns true; returns false when the caller must send the raw bytes.
 * An image folder's manifest, index or config becomes pretty-printed JSON,
 * and any other UTF-8 text file a text page. Every file response gets
 * `Vary: Accept`, because its body depends on that header.
 */
export async function serveFileAsPage(share: ShareRequest, node: NodeInfo): Promise<boolean> {
  share.response.setHeader("Vary", "Accept");
  if (!wantsHtmlView(share.request)) return false;

  if (isImageMetadataFile(share.segments)) {
    if (node.size > MAX_JSON_PAGE_BYTES) return false;
    sendPage(share, renderJsonPage(share.segments, await readWhole(share, node.size)));
    return true;
  }
  if (node.size > MAX_TEXT_PAGE_BYTES) return false;
  const bytes = await readWhole(share, node.size);
  if (!isText(bytes)) return false;
  sendPage(share, renderTextPage(share.segments, bytes));
  return true;
}

/**
 * Sends a page. Pages carry their own Content-Security-Policy, which allows
 * only their inline style and script, in place of the `sandbox` policy of
 * raw files. They get no validators, since the same URL also serves the raw
 * bytes with the file's ETag.
 */
function sendPage(share: ShareRequest, html: string): void {
  share.response.writeHead(200, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(html),
    "Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
  });
  share.response.end(share.method === "HEAD" ? undefined : html);
}

/** Returns the folder's description, or undefined after logging a failure to build it. */
async function describe(share: ShareRequest): Promise<FolderDescription | undefined> {
  if (share.tree.describeFolder === undefined) return undefined;
  try {
    return await share.tree.describeFolder(share.segments);
  } catch (error) {
    log.warn("could not describe a folder for its page", {
      path: "/" + share.segments.join("/"),
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** Reads a whole file of `size` bytes, which the caller has capped. */
async function readWhole(share: ShareRequest, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const stream: Readable = await share.tree.read(share.segments, { start: 0, end: size - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).subarray(0, size);
}
