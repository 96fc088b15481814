import { encodePathHref } from "../href-encoding.js";
import { escapeHtml } from "./escape-html.js";
import { FILTER_SCRIPT, PAGE_STYLE } from "./page-assets.js";

export interface PageContent {
  /** Decoded path segments of the page's folder or file; `[]` is the root. */
  segments: readonly string[];
  /** Plain text; escaped here. */
  title: string;
  /** Finished HTML, escaped by the caller. */
  body: string;
}

/**
 * Wraps a page body in the document every browser page shares: the
 * breadcrumbs, the inline style and the filter script. The empty data:
 * icon keeps browsers from requesting /favicon.ico.
 */
export function renderPage(content: PageContent): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(content.title)} - regdav</title>`,
    `<style>${PAGE_STYLE}</style></head>`,
    "<body>",
    breadcrumbs(content.segments),
    "<main>",
    `<h1>${escapeHtml(content.title)}</h1>`,
    content.body,
    "</main>",
    `<script>${FILTER_SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

/** Links the root and every folder on the way to the page; the page itself is plain text. */
function breadcrumbs(segments: readonly string[]): string {
  const parts = [segments.length === 0 ? "regdav" : link(encodePathHref([], true), "regdav")];
  segments.forEach((name, position) => {
    const isLast = position === segments.length - 1;
    const href = encodePathHref(segments.slice(0, position + 1), true);
    parts.push(isLast ? `<span aria-current="page">${escapeHtml(name)}</span>` : link(href, name));
  });
  return `<nav class="crumbs" aria-label="Breadcrumbs">${parts.join(" / ")}</nav>`;
}

/** Renders a link whose href and text are escaped here. */
export function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}
