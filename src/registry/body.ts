import type { RegdavError } from "../errors.js";
import { displayUrl, headerValue, transportError, type HttpResponse } from "./http.js";

/**
 * Reads a whole response body, at most `maxBytes`. A Content-Length above
 * the limit is rejected before reading, and a body that grows past it is
 * destroyed, so a hostile server cannot make regdav buffer without bound.
 */
export async function readBoundedBody(
  response: HttpResponse,
  maxBytes: number,
  tooLarge: (size: string) => RegdavError,
): Promise<Buffer> {
  const declared = Number(headerValue(response.headers, "content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.body.destroy();
    throw tooLarge(`${declared} bytes`);
  }

  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    response.body.destroy();
    throw transportError(response.method, displayUrl(response.url), error);
  }
  return Buffer.concat(chunks, total);
}

/** Reads at most `maxBytes` of a body as text and discards the rest, for error messages. */
export async function readBodySnippet(response: HttpResponse, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      chunks.push(buffer.subarray(0, Math.max(0, maxBytes - total)));
      total += buffer.length;
      if (total >= maxBytes) break; // leaving the loop destroys the stream
    }
  } catch {
    // The error response is what matters; a body that fails midway is reported as far as it got.
  }
  return Buffer.concat(chunks).toString("utf8");
}
