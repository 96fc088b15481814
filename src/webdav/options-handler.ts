import { RegdavError } from "../errors.js";
import { ALLOWED_METHODS } from "./error-response.js";
import type { ShareRequest } from "./share-request.js";

/**
 * Responds to OPTIONS for any path, existing or not. `DAV: 1` announces class 1
 * only, because the share supports no locks. MS-Author-Via makes Windows
 * clients use WebDAV instead of FrontPage extensions.
 */
export function serveOptions(share: ShareRequest): void {
  share.response.writeHead(200, {
    DAV: "1",
    Allow: ALLOWED_METHODS,
    "MS-Author-Via": "DAV",
    "Content-Length": 0,
  });
  share.response.end();
}

/** Returns the 405 error for a method the read-only share does not serve. */
export function methodNotAllowed(method: string): RegdavError {
  return new RegdavError(
    "METHOD_NOT_ALLOWED",
    `the share is read-only: ${method} is not allowed; allowed methods are ${ALLOWED_METHODS}`,
  );
}
