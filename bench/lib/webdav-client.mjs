// Timed WebDAV requests, the same for regdav and for rclone serve webdav.
// Each time runs from sending the request to receiving the last body byte.

/** The properties a file manager needs for a folder listing. */
const propfindBody =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop>' +
  "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>" +
  "<D:getcontenttype/><D:displayname/>" +
  "</D:prop></D:propfind>";

/** Encodes each segment of a path for a URL, keeping the slashes. */
export function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

async function timedRequest(url, init, expectedStatus) {
  const started = performance.now();
  const response = await fetch(url, init);
  const body = Buffer.from(await response.arrayBuffer());
  const ms = performance.now() - started;
  if (response.status !== expectedStatus) {
    const excerpt = body.toString("utf8").slice(0, 500);
    throw new Error(`${init.method} ${url} returned ${response.status}, expected ${expectedStatus}: ${excerpt}`);
  }
  return { ms, body };
}

/** Sends GET for a file and returns the time in milliseconds and the body. */
export function timedGet(url) {
  return timedRequest(url, { method: "GET" }, 200);
}

/**
 * Sends PROPFIND with Depth 1 for a folder and returns the time in
 * milliseconds and the number of entries listed, not counting the folder
 * itself.
 */
export async function timedPropfind(url) {
  const init = {
    method: "PROPFIND",
    headers: { depth: "1", "content-type": "application/xml; charset=utf-8" },
    body: propfindBody,
  };
  const { ms, body } = await timedRequest(url, init, 207);
  const responses = body.toString("utf8").match(/<(?:[A-Za-z]+:)?response[\s>]/g) ?? [];
  return { ms, entries: responses.length - 1 };
}

/**
 * Lists a folder and every folder below it, one PROPFIND Depth 1 each, as
 * `rclone lsf -R` or a file manager's search does. Returns the number of
 * folders listed and of entries seen.
 */
export async function walkFolders(rootUrl) {
  const pending = [rootUrl];
  let folders = 0;
  let entries = 0;
  for (let url = pending.pop(); url !== undefined; url = pending.pop()) {
    const init = { method: "PROPFIND", headers: { depth: "1", "content-type": "application/xml; charset=utf-8" }, body: propfindBody };
    const { body } = await timedRequest(url, init, 207);
    folders++;
    const responses = body.toString("utf8").split(/<(?:[A-Za-z]+:)?response[\s>]/).slice(1);
    const self = new URL(url).pathname;
    for (const response of responses) {
      const href = /<(?:[A-Za-z]+:)?href>([^<]*)<\//.exec(response)?.[1];
      if (href === undefined) throw new Error(`PROPFIND ${url} returned a response without an href`);
      const path = new URL(href, url).pathname;
      if (path === self) continue;
      entries++;
      if (/<(?:[A-Za-z]+:)?collection\s*\/>/.test(response)) pending.push(new URL(path, url).href);
    }
  }
  return { folders, entries };
}
