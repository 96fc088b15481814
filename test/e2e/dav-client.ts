import { request as httpRequest } from "node:http";

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

export interface DavResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Sends one request and reads the whole body; throws only when the connection fails. */
export async function davRequest(
  url: string,
  method = "GET",
  headers: Record<string, string> = {},
): Promise<DavResponse> {
  const response = await fetch(url, { method, headers });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

/**
 * Sends one request with `rawPath` as the request target exactly as given.
 * fetch() would normalize it first, removing `.` segments for example.
 */
export function rawRequest(
  baseUrl: string,
  rawPath: string,
  method: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ hostname, port, path: rawPath, method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

export async function propfind(url: string, depth: "0" | "1" = "1"): Promise<DavEntry[]> {
  const response = await fetch(url, { method: "PROPFIND", headers: { Depth: depth } });
  const body = await response.text();
  if (response.status !== 207) {
    throw new Error(`PROPFIND ${url}: status ${response.status}: ${body}`);
  }
  return parseMultistatus(body);
}

/** Returns the PROPFIND Depth 0 entry of one file or folder. */
export async function statEntry(url: string): Promise<DavEntry> {
  const entries = await propfind(url, "0");
  const [entry] = entries;
  if (entries.length !== 1 || entry === undefined) {
    throw new Error(`PROPFIND ${url} with Depth 0 returned ${entries.length} entries, expected 1`);
  }
  return entry;
}

/** Lists a folder's children with PROPFIND Depth 1, without the folder itself, sorted by name. */
export async function listEntries(url: string): Promise<DavEntry[]> {
  const entries = await propfind(url, "1");
  const self = decodeURIComponent(new URL(url).pathname).replace(/\/$/, "");
  return entries
    .filter((entry) => hrefPath(entry.href, url) !== self)
    .sort(byName);
}

/** Orders entries by name in UTF-16 code units, as Array.prototype.sort orders strings. */
function byName(a: DavEntry, b: DavEntry): number {
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

/** Lists the names of a folder's children, without the folder itself, sorted. */
export async function listNames(url: string): Promise<string[]> {
  return (await listEntries(url)).map((entry) => entry.name);
}

/** Returns a PROPFIND href as a decoded path without a trailing `/`, resolved against `base`. */
export function hrefPath(href: string, base: string): string {
  return decodeURIComponent(new URL(href, base).pathname).replace(/\/$/, "");
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
    const href = element(block, "href") ?? "";
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
  const pattern = `<(?:\\w+:)?${name}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:\\w+:)?${name}>`;
  const match = new RegExp(pattern).exec(block);
  return match?.[1] === undefined ? undefined : decodeXml(match[1]);
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&amp;/g, "&");
}

/** Encodes each segment of a path for a URL. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

/**
 * Lists every path below a folder with PROPFIND Depth 1 on each folder,
 * relative to it, folders with a trailing `/`. Stops descending at
 * `maxDepth` levels, so a tree that never ends still returns.
 */
export async function walkFolder(url: string, maxDepth = 12): Promise<string[]> {
  const paths: string[] = [];
  const visit = async (folderUrl: string, prefix: string, depth: number) => {
    for (const entry of await listEntries(folderUrl)) {
      const path = `${prefix}${entry.name}`;
      paths.push(entry.isFolder ? `${path}/` : path);
      if (entry.isFolder && depth < maxDepth) {
        await visit(`${folderUrl}${encodeURIComponent(entry.name)}/`, `${path}/`, depth + 1);
      }
    }
  };
  await visit(url, "", 1);
  return paths.sort();
}
