import type { IncomingMessage, ServerResponse } from "node:http";
import { bodyTooLarge } from "./request-guards.js";

/**
 * Reads the whole request body, up to `limit` bytes, and throws RegdavError
 * PAYLOAD_TOO_LARGE as soon as more arrives. This caps chunked bodies,
 * which declare no length. After the throw the request stays open but
 * paused, so the 413 response can still be sent; it closes the connection.
 */
export async function readBoundedBody(
  request: IncomingMessage,
  response: ServerResponse,
  limit: number,
): Promise<Buffer> {
  sendContinueIfExpected(request, response);
  const chunks: Buffer[] = [];
  let received = 0;

  // destroyOnReturn: false keeps the socket open when the loop is left by the throw.
  for await (const chunk of request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > limit) {
      request.pause();
      throw bodyTooLarge(request.method ?? "", limit, "exceeds the limit while being read");
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}

/** Returns whether the request announces a body, by Content-Length or Transfer-Encoding. */
export function hasRequestBody(request: IncomingMessage): boolean {
  const length = request.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return request.headers["transfer-encoding"] !== undefined;
}

/**
 * Sends `100 Continue` to a client that waits for it before sending its
 * body. node:http emits such requests as `checkContinue`, and this runs
 * only once the guards and authentication have passed.
 */
function sendContinueIfExpected(request: IncomingMessage, response: ServerResponse): void {
  if (request.headers.expect?.toLowerCase() === "100-continue") response.writeContinue();
}
