import type { IncomingMessage } from "node:http";

/**
 * Decides whether a GET should get a page for people instead of the raw
 * bytes. `?view=html` and `?view=raw` decide outright. Otherwise a request
 * gets a page when its Accept header lists text/html, as browsers send for
 * navigations, and it has no Range header, since a ranged read is a client
 * reading bytes. WebDAV clients, curl and rclone send no text/html, so
 * they always get the exact bytes.
 */
export function wantsHtmlView(request: IncomingMessage): boolean {
  const view = viewParameterOf(request.url ?? "");
  if (view === "html") return true;
  if (view === "raw") return false;
  if (request.headers.range !== undefined) return false;
  return acceptsHtml(request.headers.accept);
}

function viewParameterOf(target: string): string | null {
  const queryStart = target.indexOf("?");
  if (queryStart === -1) return null;
  return new URLSearchParams(target.slice(queryStart + 1)).get("view");
}

/** Tests whether an Accept header lists text/html with a quality above 0. */
function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(",").some((range) => {
    const [type, ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    if (type !== "text/html") return false;
    const quality = parameters.find((parameter) => parameter.startsWith("q="));
    return quality === undefined || Number(quality.slice(2)) > 0;
  });
}
