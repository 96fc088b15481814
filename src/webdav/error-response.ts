import type { ServerResponse } from "node:http";
import { httpStatusOf, RegdavError } from "../errors.js";

/** Methods the read-only share serves, as sent in the Allow header. */
export const ALLOWED_METHODS = "OPTIONS, GET, HEAD, PROPFIND";

/** WWW-Authenticate challenge for Basic authentication (RFC 7617). */
export const BASIC_CHALLENGE = 'Basic realm="regdav", charset="UTF-8"';

/**
 * A failed WebDAV precondition: a 403 whose DAV:error body names the
 * condition element (RFC 4918, section 16).
 */
export class DavConditionError extends RegdavError {
  readonly condition: string;

  constructor(condition: string, message: string) {
    super("FORBIDDEN", message);
    this.condition = condition;
  }
}

/** A Range header that no byte of the file satisfies; the 416 response names the file size. */
export class UnsatisfiableRangeError extends RegdavError {
  readonly size: number;

  constructor(size: number, range: string) {
    super(
      "RANGE_NOT_SATISFIABLE",
      `range ${JSON.stringify(range)} is outside the file of ${size} bytes`,
    );
    this.size = size;
  }
}

/**
 * Sends the error response for `error`. The status comes from httpStatusOf,
 * the body is the RegdavError message as plain text, and errors of other
 * types get a generic message because theirs may expose internals.
 */
export function sendError(response: ServerResponse, error: unknown): void {
  const status = httpStatusOf(error);
  const headers = headersFor(error);

  if (error instanceof DavConditionError) {
    sendDavError(response, status, error.condition, headers);
  } else if (error instanceof RegdavError) {
    sendPlainText(response, status, error.message, headers);
  } else {
    sendPlainText(
      response,
      status,
      "internal server error; the server log has the details",
      headers,
    );
  }
}

function headersFor(error: unknown): Record<string, string> {
  if (!(error instanceof RegdavError)) return {};
  switch (error.code) {
    // NOTE: REGISTRY_UNAUTHORIZED also maps to 401 but gets no challenge, because the share's
    // credentials are not what failed. RFC 9110 requires WWW-Authenticate on every 401.
    case "UNAUTHORIZED":
      return { "WWW-Authenticate": BASIC_CHALLENGE };
    case "METHOD_NOT_ALLOWED":
      return { Allow: ALLOWED_METHODS };
    case "PAYLOAD_TOO_LARGE":
      // The unread rest of the body would otherwise be parsed as the next request.
      return { Connection: "close" };
    case "RANGE_NOT_SATISFIABLE":
      return error instanceof UnsatisfiableRangeError
        ? { "Content-Range": `bytes */${error.size}` }
        : {};
    default:
      return {};
  }
}

export function sendPlainText(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  sendBody(response, status, "text/plain; charset=utf-8", text + "\n", headers);
}

/** Sends a DAV:error body whose only child is the precondition element `condition`. */
function sendDavError(
  response: ServerResponse,
  status: number,
  condition: string,
  headers: Record<string, string>,
): void {
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<D:error xmlns:D="DAV:"><D:${condition}/></D:error>\n`;
  sendBody(response, status, "application/xml; charset=utf-8", body, headers);
}

function sendBody(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string>,
): void {
  response.writeHead(status, {
    ...headers,
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
    "X-Content-Type-Options": "nosniff",
  });
  response.end(body);
}
