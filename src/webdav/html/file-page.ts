import { encodePathHref } from "../href-encoding.js";
import { escapeHtml } from "./escape-html.js";
import { parseJsonForView, renderJsonHtml } from "./json-html.js";
import { sizeHtml } from "./page-format.js";
import { link, renderPage } from "./page-layout.js";
import { repositoryBase } from "./repository-links.js";

/**
 * Renders an image folder's manifest.json, index.json or config.json as a
 * page: pretty-printed, with every digest a link. Bytes that are not JSON,
 * as an artifact's config can be, are shown as text.
 */
export function renderJsonPage(segments: readonly string[], bytes: Buffer): string {
  const text = bytes.toString("utf8");
  const json = parseJsonForView(text);
  const content =
    json === undefined
      ? `<pre class="text">${escapeHtml(text)}</pre>`
      : `<pre class="json">${renderJsonHtml(json, repositoryBase(segments))}</pre>`;
  return filePage(segments, bytes.length, content);
}

/** Renders a text file from an image as a page, its content escaped in a `<pre>`. */
export function renderTextPage(segments: readonly string[], bytes: Buffer): string {
  return filePage(
    segments,
    bytes.length,
    `<pre class="text">${escapeHtml(bytes.toString("utf8"))}</pre>`,
  );
}

/**
 * Tests whether bytes read as UTF-8 text: no NUL byte, and valid UTF-8.
 * Control characters other than NUL are allowed, since logs and scripts
 * contain tabs and escape sequences.
 */
export function isText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function filePage(segments: readonly string[], size: number, content: string): string {
  const name = segments.at(-1) ?? "";
  const rawHref = encodePathHref(segments, false) + "?view=raw";
  const intro = `<p class="muted">${sizeHtml(size)} &middot; ${link(rawHref, "raw bytes")}</p>`;
  return renderPage({ segments, title: name, body: intro + "\n" + content });
}
