import { RegdavError } from "../errors.js";
import { segmentProblem } from "./segment-rules.js";

/** Maximum length of a request path, in bytes of its encoded form. */
export const MAX_PATH_BYTES = 4096;

/** Maximum number of segments in a request path. */
export const MAX_PATH_SEGMENTS = 255;

export interface RequestPath {
  /** Decoded segment names; `[]` is the root. */
  segments: string[];
  /** Whether the encoded path ended with `/`, which names a folder. */
  trailingSlash: boolean;
}

/**
 * Decodes the path of an HTTP request target into segments. Throws
 * RegdavError BAD_REQUEST, naming the problem, for invalid percent-encoding,
 * bytes that are not UTF-8, `..` segments, encoded slashes, backslashes,
 * control characters, a raw `#` or non-ASCII character, and paths over MAX_PATH_BYTES or
 * MAX_PATH_SEGMENTS. The query string is ignored, and empty segments (`//`)
 * and `.` segments are dropped: rclone writes `/./127.0.0.1:5000/` so that
 * a first segment with a colon is not read as a URL scheme.
 */
export function parseRequestPath(target: string): RequestPath {
  const path = withoutQuery(withoutOrigin(target));
  if (!path.startsWith("/")) {
    throw invalidPath(`request target ${quote(target)} is not an absolute path`);
  }
  if (path.includes("#")) throw invalidPath("request path contains a raw '#'; encode it as %23");
  if (/[^\x21-\x7e]/.test(path)) {
    throw invalidPath(
      "request path contains a raw space, control or non-ASCII character; percent-encode it",
    );
  }
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw invalidPath(`request path is longer than ${MAX_PATH_BYTES} bytes`);
  }

  const encodedSegments = path.split("/").filter((segment) => segment !== "");
  if (encodedSegments.length > MAX_PATH_SEGMENTS) {
    throw invalidPath(`request path has more than ${MAX_PATH_SEGMENTS} segments`);
  }

  return {
    segments: encodedSegments.map(decodeSegment).filter((segment) => segment !== "."),
    trailingSlash: path.length > 1 && path.endsWith("/"),
  };
}

/** Strips `scheme://authority` from an absolute-form target, which proxies send. */
function withoutOrigin(target: string): string {
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (origin === null) return target;
  return target.slice(origin[0].length) || "/";
}

function withoutQuery(target: string): string {
  const queryStart = target.indexOf("?");
  return queryStart === -1 ? target : target.slice(0, queryStart);
}

function decodeSegment(encoded: string): string {
  if (/%(?![0-9a-f]{2})/i.test(encoded)) {
    throw invalidPath(`segment ${quote(encoded)} contains invalid percent-encoding`);
  }

  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    throw invalidPath(`segment ${quote(encoded)} is not valid UTF-8 once decoded`);
  }

  if (decoded === ".") return decoded;
  const problem = segmentProblem(decoded);
  if (problem !== undefined) throw invalidPath(`segment ${quote(encoded)} ${problem}`);
  return decoded;
}

function invalidPath(message: string): RegdavError {
  return new RegdavError("BAD_REQUEST", `invalid request path: ${message}`);
}

/** Quotes a client-supplied value for a message, cut to 80 characters. */
function quote(value: string): string {
  const excerpt = value.length > 80 ? value.slice(0, 80) + "..." : value;
  return JSON.stringify(excerpt);
}
