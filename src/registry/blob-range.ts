import type { Readable } from "node:stream";

import { RegdavError } from "../errors.js";
import { headerValue, type HttpResponse } from "./http.js";

/**
 * The registry sent the whole blob (200) in response to a Range request,
 * instead of the requested part (206). Callers then fetch and cache the blob whole.
 */
export class RangeIgnoredError extends RegdavError {
  constructor(readonly label: string) {
    super("REGISTRY_ERROR", `${label}: the registry ignores Range requests (answered 200, not 206)`);
  }
}

/**
 * Checks a response to `Range: bytes=start-end` and returns its body: a
 * 206 whose Content-Range starts and ends where asked. Anything else is
 * refused before a byte is read, since a reader that counts on the range
 * would otherwise take the wrong bytes for the right ones.
 */
export function rangeBody(response: HttpResponse, start: number, end: number, label: string): Readable {
  if (response.status === 200) {
    response.body.destroy();
    throw new RangeIgnoredError(label);
  }

  const contentRange = headerValue(response.headers, "content-range") ?? "";
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim());
  if (response.status !== 206 || Number(match?.[1]) !== start || Number(match?.[2]) !== end) {
    response.body.destroy();
    const sent = `${response.status} with Content-Range ${JSON.stringify(contentRange)}`;
    throw new RegdavError("REGISTRY_ERROR", `${label}: asked for bytes ${start}-${end}, got ${sent}`);
  }
  return response.body;
}
