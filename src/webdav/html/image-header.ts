import type { FolderDescription, LayerSummary } from "../../tree/folder-description.js";
import { encodePathHref } from "../href-encoding.js";
import { escapeHtml } from "./escape-html.js";
import { sizeHtml, timeHtml } from "./page-format.js";
import { link } from "./page-layout.js";
import { manifestFolderHref, repositoryBase } from "./repository-links.js";

const KIND_TITLES: Record<FolderDescription["kind"], string> = {
  image: "Image",
  index: "Multi-platform index",
  artifact: "Artifact",
  schema1: "Image (Docker schema 1)",
};

/**
 * Renders the header of an image folder's page: what the folder is, its
 * run configuration and its layers. For an index it also lists the
 * platforms and describes the one whose files the folder shows.
 * `folder` is the folder's path, which every link starts from.
 */
export function renderImageHeader(
  description: FolderDescription,
  folder: readonly string[],
): string {
  const parts = [`<section class="image" aria-label="${KIND_TITLES[description.kind]}">`];
  parts.push(`<h2>${KIND_TITLES[description.kind]}</h2>`, definitionList(description, folder));
  if (description.kind === "index") parts.push(entriesTable(description, folder));
  else parts.push(layersTable(description.layers, folder));

  const platformImage = description.platformImage;
  if (platformImage) {
    const platform = platformImage.platform ?? "the served platform";
    parts.push(`<h2>This folder also shows ${escapeHtml(platform)}</h2>`);
    parts.push(definitionList(platformImage, folder), layersTable(platformImage.layers, folder));
  }
  parts.push("</section>");
  return parts.join("\n");
}

function definitionList(description: FolderDescription, folder: readonly string[]): string {
  const base = repositoryBase(folder);
  const digest = code(description.digest);
  const rows: [string, string | undefined][] = [
    ["Reference", code(description.reference)],
    [
      "Digest",
      base
        ? `<a href="${escapeHtml(manifestFolderHref(base, description.digest))}">${digest}</a>`
        : digest,
    ],
    ["Platform", description.platform && escapeHtml(description.platform)],
    ["Media type", code(description.mediaType)],
    ["Artifact type", description.artifactType && code(description.artifactType)],
    [
      "Total size",
      description.totalSize === undefined ? undefined : sizeHtml(description.totalSize),
    ],
    ["Layers", description.kind === "index" ? undefined : String(description.layers.length)],
    ["Created", description.created && timeHtml(description.created)],
    ["Entrypoint", description.entrypoint && code(JSON.stringify(description.entrypoint))],
    ["Command", description.command && code(JSON.stringify(description.command))],
    ["Working folder", description.workingDir && code(description.workingDir)],
    ["User", description.user && code(description.user)],
    ["Environment", environmentList(description.environment)],
  ];
  const items = rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`);
  return `<dl>${items.join("")}</dl>`;
}

function environmentList(environment: readonly string[]): string | undefined {
  if (environment.length === 0) return undefined;
  return `<ul>${environment.map((entry) => `<li>${code(entry)}</li>`).join("")}</ul>`;
}

/** Renders one row per layer: its folder (or raw file), size and the history line that made it. */
function layersTable(layers: readonly LayerSummary[], folder: readonly string[]): string {
  if (layers.length === 0) return "";
  const configHref = encodePathHref([...folder, "config.json"], false) + "?view=html";
  const rows = layers.map((layer, offset) => {
    const target = layer.folderName
      ? link(encodePathHref([...folder, "layers", layer.folderName], true), layer.folderName + "/")
      : link(encodePathHref([...folder, "layers", layer.fileName], false), layer.fileName);
    const size = layer.size === undefined ? "" : sizeHtml(layer.size);
    const cells = [
      `<td class="muted">${offset + 1}</td>`,
      `<td class="name">${target}</td>`,
      `<td class="size">${size}</td>`,
      `<td>${historyCell(layer, configHref)}</td>`,
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return [
    '<table class="layers">',
    '<thead><tr><th>#</th><th>Layer</th><th class="size">Size</th>' +
      "<th>Created by</th></tr></thead>",
    `<tbody>${rows.join("\n")}</tbody>`,
    "</table>",
  ].join("\n");
}

/** Renders the layer's `created_by`, linked to its entry in the pretty-printed config. */
function historyCell(layer: LayerSummary, configHref: string): string {
  if (layer.createdBy === undefined) return '<span class="muted">no history</span>';
  const text = code(layer.createdBy);
  if (layer.historyIndex === undefined) return text;
  const href = `${configHref}#history-${layer.historyIndex}`;
  return `<a href="${escapeHtml(href)}">${text}</a>`;
}

function entriesTable(description: FolderDescription, folder: readonly string[]): string {
  const base = repositoryBase(folder);
  const rows = description.entries.map((entry) => {
    const folderLink = link(
      encodePathHref([...folder, entry.folderName], true),
      entry.folderName + "/",
    );
    const digest = code(entry.digest);
    const digestCell = base
      ? `<a href="${escapeHtml(manifestFolderHref(base, entry.digest))}">${digest}</a>`
      : digest;
    const platform = entry.platform
      ? escapeHtml(entry.platform)
      : '<span class="muted">none</span>';
    const cells = [
      `<td class="name">${folderLink}</td>`,
      `<td>${platform}</td>`,
      `<td class="size">${sizeHtml(entry.size)}</td>`,
      `<td class="wide">${digestCell}</td>`,
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return [
    '<table class="entries">',
    '<thead><tr><th>Folder</th><th>Platform</th><th class="size">Manifest size</th>' +
      '<th class="wide">Digest</th></tr></thead>',
    `<tbody>${rows.join("\n")}</tbody>`,
    "</table>",
  ].join("\n");
}

function code(text: string): string {
  return `<code>${escapeHtml(text)}</code>`;
}
