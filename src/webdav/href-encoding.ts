import type { v2 as webdav } from "webdav-server";

/**
 * Encodes decoded path segments as an absolute URL path. Each segment is
 * percent-encoded on its own, so names with `#`, `?`, `%`, spaces, quotes or
 * non-ASCII characters round-trip. A folder path ends with `/`.
 */
export function encodePathHref(segments: readonly string[], isFolder: boolean): string {
  const path = "/" + segments.map(encodeURIComponent).join("/");
  return isFolder && segments.length > 0 ? path + "/" : path;
}

/** Encodes each `/`-separated name of a decoded path, keeping the slashes. */
function encodeDecodedPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Replaces the href encoder of webdav-server, which serves the litmus
 * scratch folder, while the share's own PROPFIND uses encodePathHref.
 * Version 2.6.3 builds every PROPFIND href with the static
 * `HTTPRequestContext.encodeURL`, which calls `encodeURI`. That leaves `#`,
 * `?` and `&` unencoded, so a file named `a#b` comes back as `a` with a URL
 * fragment.
 *
 * The replacement expects a decoded absolute path. webdav-server passes one
 * only with its `respondWithPaths` option set, and the replacement would
 * encode the `:` of a full URL's scheme. The change is process-wide, which is safe
 * while this adapter is the only code that uses webdav-server.
 */
export function installHrefEncoder(webdavServer: typeof webdav): void {
  webdavServer.HTTPRequestContext.encodeURL = encodeDecodedPath;
}
