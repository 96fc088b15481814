import type { FolderDescription } from "../tree/folder-description.js";
import type { NodeInfo } from "../tree/virtual-tree.js";
import { encodePathHref } from "./href-encoding.js";
import { escapeHtml } from "./html/escape-html.js";
import { renderImageHeader } from "./html/image-header.js";
import { sizeHtml, timeHtml } from "./html/page-format.js";
import { renderPage } from "./html/page-layout.js";
import { contentTypeOf } from "./node-metadata.js";
import { isServableName } from "./segment-rules.js";

/**
 * Renders a folder as an HTML page for browsers: breadcrumbs, a filter box,
 * and a table of the children with size, date and type, with the image
 * header on top when the tree described the folder. Every name is
 * HTML-escaped and every link is an absolute path percent-encoded per
 * segment, so hostile names in an image cannot inject markup or point
 * elsewhere. Names that a request path cannot contain are left out.
 */
export function renderFolderListing(
  segments: readonly string[],
  children: readonly NodeInfo[],
  description?: FolderDescription,
): string {
  const rows = children
    .filter((child) => isServableName(child.name))
    .map((child) => rowOf(segments, child));
  if (segments.length > 0) {
    const parent = `<a href="${escapeHtml(encodePathHref(segments.slice(0, -1), true))}">../</a>`;
    rows.unshift(
      `<tr><td class="name">${parent}</td><td></td><td class="wide"></td><td></td></tr>`,
    );
  }

  const body = [
    description ? renderImageHeader(description, segments) : "",
    '<input type="search" id="filter" placeholder="Filter names" aria-label="Filter names" hidden>',
    '<table id="entries">',
    '<thead><tr><th>Name</th><th class="size">Size</th><th class="wide">Modified</th>' +
      "<th>Type</th></tr></thead>",
    "<tbody>",
    ...rows,
    "</tbody></table>",
  ];
  const title = "/" + segments.map((name) => name + "/").join("");
  return renderPage({ segments, title, body: body.join("\n") });
}

function rowOf(segments: readonly string[], child: NodeInfo): string {
  const isFolder = child.type === "directory";
  const href = encodePathHref([...segments, child.name], isFolder);
  const label = isFolder ? child.name + "/" : child.name;
  const cells = [
    `<td class="name"><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td>`,
    `<td class="size">${isFolder ? "" : sizeHtml(child.size)}</td>`,
    `<td class="wide muted">${timeHtml(child.modified)}</td>`,
    `<td class="muted">${isFolder ? "folder" : escapeHtml(contentTypeOf(child))}</td>`,
  ];
  const filterKey = escapeHtml(child.name.toLowerCase());
  return `<tr data-name="${filterKey}">${cells.join("")}</tr>`;
}
