import { parseReference, type ImageReference } from "../reference/reference.js";
import { isRegistryName } from "../tree/repository-names.js";
import { UsageError } from "./usage-error.js";

/**
 * The PATH argument of `regdav ls`, `cat`, `find` and `cp`: either a path of
 * the tree or an image reference, optionally followed by `:/` and a path
 * inside the image's root filesystem. PATH is a tree path when it
 *
 * - starts or ends with `/`,
 * - has a segment starting with `_` (`_tags`, `_manifests`, `_blobs`)
 *   before any `:/`, which no image reference can have,
 * - is a bare registry (`127.0.0.1:5000`, `ghcr.io`, `localhost:5000`) or a
 *   `--source` name,
 * - or starts with a registry or `--source` name and its last segment has no
 *   tag or digest, so `ghcr.io/org/app` is the repository's folder.
 *
 * Anything else is an image reference, normalized as `docker pull` does. The
 * first `:/` starts the path inside the image, so `host:5000/repo:/etc` is
 * `/etc` of `host:5000/repo:latest`.
 */
export interface TreeLocation {
  /** Segments from the root of the tree, as RegistryTree takes them. */
  segments: string[];
  /**
   * The start of every path printed for nodes at or below this one: PATH as
   * given, or the tree path for a reference without `:/`, whose image folder
   * has no other spelling.
   */
  display: string;
  /** For a reference with `:/`: the image folder, to explain an image that has no rootfs/. */
  image?: { reference: string; folder: string[] };
  /** For any image reference: the repository folder, registry first, which the user named. */
  repository?: string[];
}

/** Parses PATH. Throws UsageError for an empty one, RegdavError BAD_REQUEST for a bad reference. */
export function parseTreePath(text: string, sourceNames: ReadonlySet<string>): TreeLocation {
  if (text === "") throw new UsageError("the path is empty: give a tree path or an image reference");
  const separator = text.indexOf(":/");
  const head = separator === -1 ? text : text.slice(0, separator);

  if (isTreePath(text, head, separator !== -1, sourceNames)) {
    return { segments: normalizeSegments(text), display: trimTrailingSlashes(text) };
  }

  const reference = parseReference(head);
  const folder = imageFolderSegments(reference);
  const repository = [reference.registry, ...reference.repository.split("/")];
  if (separator === -1) return { segments: folder, display: treePathOf(folder), repository };

  const inner = normalizeSegments(text.slice(separator + 2));
  return {
    segments: [...folder, "rootfs", ...inner],
    display: `${head}:/${trimTrailingSlashes(text.slice(separator + 2)).replace(/^\/+/, "")}`,
    image: { reference: head, folder },
    repository,
  };
}

function isTreePath(text: string, head: string, hasInnerPath: boolean, sourceNames: ReadonlySet<string>) {
  if (text.startsWith("/")) return true;
  const headSegments = head.split("/");
  if (headSegments.some((segment) => segment.startsWith("_"))) return true;
  if (hasInnerPath) return false;
  if (text.endsWith("/")) return true;

  const first = headSegments[0]!;
  if (headSegments.length === 1) return sourceNames.has(first) || isBareRegistry(first);
  const last = headSegments.at(-1)!;
  const namesFolder = !last.includes(":") && !last.includes("@");
  return namesFolder && (sourceNames.has(first) || isRegistryName(first));
}

/**
 * Tests a lone segment for a registry. Unlike a registry followed by `/`, a
 * port alone is not enough, because `node:20` is an image on Docker Hub.
 */
function isBareRegistry(segment: string): boolean {
  if (!isRegistryName(segment)) return false;
  const host = segment.startsWith("[") ? segment : segment.split(":")[0]!;
  return host.startsWith("[") || host.includes(".") || host === "localhost";
}

/** Returns the image folder of a reference: `_manifests/<digest>` when it has a digest, else `_tags/<tag>`. */
export function imageFolderSegments(reference: ImageReference): string[] {
  const base = [reference.registry, ...reference.repository.split("/")];
  if (reference.digest !== undefined) return [...base, "_manifests", reference.digest];
  return [...base, "_tags", reference.tag ?? "latest"];
}

/**
 * Splits a path into segments, dropping empty and `.` segments. `..` removes
 * the segment before it and stops at the start, as in a shell at `/`.
 */
export function normalizeSegments(path: string): string[] {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return segments;
}

/** Formats segments as an absolute tree path, `/` for the root. */
export function treePathOf(segments: readonly string[]): string {
  return "/" + segments.join("/");
}

/** Appends a child's name to a printed path. */
export function joinDisplay(parent: string, name: string): string {
  return parent.endsWith("/") ? parent + name : `${parent}/${name}`;
}

function trimTrailingSlashes(text: string): string {
  const trimmed = text.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}
