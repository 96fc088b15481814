import type { Duplex } from "node:stream";
import { log } from "../log.js";
import { ALLOWED_METHODS } from "./error-response.js";

/**
 * Responds to a request that node:http could not parse, in place of its
 * default `clientError` handling. Unlike the default, it gives an unknown
 * method, which the parser rejects before any request handler runs, a 405
 * with Allow, like any other method the read-only share does not serve.
 */
export function handleClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  log.debug("could not parse a request", { code: error.code, error: error.message });
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawResponse(...statusFor(error.code)));
}

/**
 * Responds with 405 to CONNECT, which node:http hands to a `connect`
 * listener instead of the request handler.
 */
export function rejectConnect(_request: unknown, socket: Duplex): void {
  socket.end(rawResponse(405, "the share is read-only and is not a proxy: CONNECT is not allowed"));
}

function statusFor(code: string | undefined): [number, string] {
  switch (code) {
    case "HPE_INVALID_METHOD":
      return [405, `unknown request method; allowed methods are ${ALLOWED_METHODS}`];
    case "HPE_INVALID_URL":
      return [
        400,
        "invalid request target: it must be an absolute path with non-ASCII bytes percent-encoded",
      ];
    case "HPE_HEADER_OVERFLOW":
      return [431, "request headers are too large"];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "request timed out before it was complete"];
    default:
      return [400, "malformed HTTP request"];
  }
}

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

function rawResponse(status: number, message: string): string {
  const body = message + "\n";
  const allow = status === 405 ? `Allow: ${ALLOWED_METHODS}\r\n` : "";
  return (
    `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? ""}\r\n` +
    allow +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}
