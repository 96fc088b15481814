import type { NodeInfo } from "../tree/virtual-tree.js";
import { encodePathHref } from "./href-encoding.js";
import { isServableName } from "./segment-rules.js";

/**
 * Renders a folder as a plain HTML page for browsers. Every name is
 * HTML-escaped and every link is an absolute path percent-encoded per
 * segment, so hostile names in an image cannot inject markup or point
 * elsewhere. Names that a request path cannot contain are left out.
 */
export function renderFolderListing(
  segments: readonly string[],
  children: readonly NodeInfo[],
): string {
  const title = `Index of ${escapeHtml("/" + segments.map((name) => name + "/").join(""))}`;
  const rows = children
    .filter((child) => isServableName(child.name))
    .map((child) => rowOf(segments, child));
  if (segments.length > 0) {
    rows.unshift(linkRow(encodePathHref(segments.slice(0, -1), true), "../", ""));
  }

  return [
    "<!DOCTYPE html>",
    '<html><head><meta charset="utf-8">',
    `<title>${title}</title></head>`,
    `<body><h1>${title}</h1>`,
    "<table>",
    ...rows,
    "</table>",
    "</body></html>",
    "",
  ].join("\n");
}

function rowOf(segments: readonly string[], child: NodeInfo): string {
  const isFolder = child.type === "directory";
  const href = encodePathHref([...segments, child.name], isFolder);
  const label = isFolder ? child.name + "/" : child.name;
  return linkRow(href, label, isFolder ? "" : String(child.size));
}

function linkRow(href: string, label: string, size: string): string {
  return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td><td>${size}</td></tr>`;
}

/** Escapes the five characters that can end text or an attribute value in HTML. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}
