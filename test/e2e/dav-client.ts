/**
 * A minimal WebDAV client for the end-to-end tests: PROPFIND with the
 * response parsed into entries, and GET. It parses only the elements regdav
 * sends, with the `D:` or any other namespace prefix.
 */
export interface DavEntry {
  /** The href exactly as sent. */
  href: string;
  /** The last path segment, percent-decoded. */
  name: string;
  isFolder: boolean;
  size: number | undefined;
  etag: string | undefined;
  modified: string | undefined;
  contentType: string | undefined;
}

export async function propfind(url: string, depth: "0" | "1" = "1"): Promise<DavEntry[]> {
  const response = await fetch(url, { method: "PROPFIND", headers: { Depth: depth } });
  const body = await response.text();
  if (response.status !== 207) {
    throw new Error(`PROPFIND ${url}: status ${response.status}: ${body}`);
  }
  return parseMultistatus(body);
}

/** Lists the names of a folder's children, without the folder itself, sorted. */
export async function listNames(url: string): Promise<string[]> {
  const entries = await propfind(url, "1");
  const self = new URL(url).pathname;
  return entries
    .filter((entry) => decodeURIComponent(new URL(entry.href, url).pathname) !== decodeURIComponent(self))
    .map((entry) => entry.name)
    .sort();
}

export async function getBytes(url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const response = await fetch(url, { headers });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200 && response.status !== 206) {
    throw new Error(`GET ${url}: status ${response.status}: ${body.toString()}`);
  }
  return body;
}

export function parseMultistatus(xml: string): DavEntry[] {
  const responses = xml.match(/<(?:\w+:)?response\b[\s\S]*?<\/(?:\w+:)?response>/g) ?? [];
  return responses.map((block) => {
    const href = decodeXml(element(block, "href") ?? "");
    const path = href.replace(/\/$/, "");
    const size = element(block, "getcontentlength");
    return {
      href,
      name: decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)),
      isFolder: /<(?:\w+:)?collection\s*\/?>/.test(block),
      size: size === undefined ? undefined : Number(size),
      etag: element(block, "getetag"),
      modified: element(block, "getlastmodified"),
      contentType: element(block, "getcontenttype"),
    };
  });
}

function element(block: string, name: string): string | undefined {
  const match = new RegExp(`<(?:\\w+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:\\w+:)?${name}>`).exec(block);
  return match?.[1];
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Encodes each segment of a path for a URL. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}
