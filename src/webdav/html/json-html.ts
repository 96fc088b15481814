import { isIndexType, isImageManifestType, isSchema1Type } from "../../manifest/media-types.js";
import { isDigest } from "../../reference/digest.js";
import { escapeHtml } from "./escape-html.js";
import { blobHref, manifestFolderHref } from "./repository-links.js";

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type JsonPath = readonly (string | number)[];

const INDENT = "  ";

/**
 * Renders parsed JSON as indented, escaped HTML for a `<pre>`. Strings that
 * are digests become links: to the image folder under `_manifests/` when
 * they name a manifest, else to the raw blob under `_blobs/`, both in the
 * repository `base`. Entries of a top-level `history` array get the ids
 * `history-N`, which the image header links to.
 *
 * NOTE: JSON.parse moves integer-like object keys to the front and rounds
 * numbers beyond 2^53, so the view can differ from the raw bytes in key
 * order and in such numbers. The raw bytes stay one link away.
 */
export function renderJsonHtml(value: JsonValue, base: readonly string[] | undefined): string {
  return renderValue(value, [], "", base, undefined);
}

function renderValue(
  value: JsonValue,
  path: JsonPath,
  indent: string,
  base: readonly string[] | undefined,
  parent: { [key: string]: JsonValue } | undefined,
): string {
  if (typeof value === "string") return renderString(value, path, base, parent);
  if (value === null || typeof value !== "object") {
    return `<span class="literal">${escapeHtml(JSON.stringify(value))}</span>`;
  }
  if (Array.isArray(value)) return renderArray(value, path, indent, base);
  return renderObject(value, path, indent, base);
}

function renderArray(
  items: JsonValue[],
  path: JsonPath,
  indent: string,
  base: readonly string[] | undefined,
): string {
  if (items.length === 0) return "[]";
  const inner = indent + INDENT;
  const lines = items.map((item, position) => {
    const html = renderValue(item, [...path, position], inner, base, undefined);
    const isHistoryEntry = path.length === 1 && path[0] === "history";
    return inner + (isHistoryEntry ? `<span id="history-${position}">${html}</span>` : html);
  });
  return `[\n${lines.join(",\n")}\n${indent}]`;
}

function renderObject(
  object: { [key: string]: JsonValue },
  path: JsonPath,
  indent: string,
  base: readonly string[] | undefined,
): string {
  const keys = Object.keys(object);
  if (keys.length === 0) return "{}";
  const inner = indent + INDENT;
  const lines = keys.map((key) => {
    const keyHtml = `<span class="key">${escapeHtml(JSON.stringify(key))}</span>`;
    const valueHtml = renderValue(object[key]!, [...path, key], inner, base, object);
    return `${inner}${keyHtml}: ${valueHtml}`;
  });
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

function renderString(
  text: string,
  path: JsonPath,
  base: readonly string[] | undefined,
  parent: { [key: string]: JsonValue } | undefined,
): string {
  const html = `<span class="string">${escapeHtml(JSON.stringify(text))}</span>`;
  const target = base && isDigest(text) ? digestTarget(path, parent) : undefined;
  if (target === undefined || base === undefined) return html;

  const href = target === "manifest" ? manifestFolderHref(base, text) : blobHref(base, text);
  return `<a href="${escapeHtml(href)}">${html}</a>`;
}

/**
 * Decides what a digest string names from where it sits. A descriptor's
 * `digest` names a manifest when its mediaType is a manifest type, or when
 * it is an entry of `manifests` or the `subject`, and a blob otherwise.
 * Schema 1 `blobSum`s name blobs, and the annotation
 * `vnd.docker.reference.digest` of an attestation names a manifest.
 * Others, such as the config's `diff_ids`, name uncompressed layer tars,
 * which no registry stores, and get no link.
 */
function digestTarget(
  path: JsonPath,
  parent: { [key: string]: JsonValue } | undefined,
): "manifest" | "blob" | undefined {
  const key = path.at(-1);
  if (key === "blobSum") return "blob";
  if (
    path.at(-2) === "annotations" &&
    typeof key === "string" &&
    key.endsWith("reference.digest")
  ) {
    return "manifest";
  }
  if (key !== "digest") return undefined;

  const mediaType = typeof parent?.mediaType === "string" ? parent.mediaType : "";
  if (isIndexType(mediaType) || isImageManifestType(mediaType) || isSchema1Type(mediaType)) {
    return "manifest";
  }
  if (path.at(-3) === "manifests" || path.at(-2) === "subject") return "manifest";
  return "blob";
}

/** Parses JSON text for the view; undefined when it is not valid JSON. */
export function parseJsonForView(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}
