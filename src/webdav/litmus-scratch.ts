import type { IncomingMessage, ServerResponse } from "node:http";
import type { v2 as webdav } from "webdav-server";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { installHrefEncoder } from "./href-encoding.js";

/**
 * TEST ONLY. Names a writable scratch folder at the root of the share, such
 * as `litmus-scratch`, served by webdav-server's own in-memory file system
 * with every WebDAV method. It exists so that the litmus WebDAV test suite,
 * which needs to write, can run its write tests against the share's request
 * guards and href encoding. The read-only tree does not go through
 * webdav-server, because regdav handles its requests itself. Never enabled unless
 * this variable is set. Anyone who reaches
 * the share can fill the server's memory through it, and it takes no
 * credentials, so the share refuses to start with it and `--dav-user`.
 */
export const LITMUS_SCRATCH_VARIABLE = "REGDAV_LITMUS_SCRATCH";

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Returns `handler` unchanged unless REGDAV_LITMUS_SCRATCH is set. When it
 * is, requests under `/<name>/` go to the scratch file system and all
 * others to `handler`. Throws RegdavError BAD_REQUEST for a name that is
 * not one lowercase segment, which could shadow a registry, or when the
 * share requires credentials.
 */
export function withLitmusScratch(
  handler: RequestListener,
  options: { requiresCredentials: boolean },
  environment: NodeJS.ProcessEnv = process.env,
): RequestListener {
  const name = environment[LITMUS_SCRATCH_VARIABLE];
  if (name === undefined || name === "") return handler;
  checkScratchName(name, options.requiresCredentials);

  const prefix = `/${name}`;
  const scratch = createScratchServer();
  scratch.catch((error: unknown) => log.error("loading webdav-server for the scratch folder failed", { error: String(error) }));
  log.warn("serving a writable in-memory scratch folder for WebDAV tests", {
    path: prefix + "/",
    variable: LITMUS_SCRATCH_VARIABLE,
  });

  return (request, response) => {
    const target = request.url ?? "";
    if (target !== prefix && !target.startsWith(prefix + "/") && !target.startsWith(prefix + "?")) {
      handler(request, response);
      return;
    }
    // webdav-server resolves request.url inside the file system and puts the prefix back in hrefs.
    request.url = target.slice(prefix.length) || "/";
    log.debug("scratch request", { method: request.method, path: target.split("?", 1)[0] });
    // The share handles checkContinue itself, so node:http no longer sends 100 Continue.
    if (/100-continue/i.test(request.headers.expect ?? "")) response.writeContinue();
    scratch.then(
      (server) => server.executeRequest(request, response, prefix),
      () => {
        response.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        response.end("the scratch folder is unavailable: loading webdav-server failed, see the server log\n");
      },
    );
  };
}

function checkScratchName(name: string, requiresCredentials: boolean): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new RegdavError(
      "BAD_REQUEST",
      `invalid ${LITMUS_SCRATCH_VARIABLE} ${JSON.stringify(name)}: use one lowercase folder name ` +
        "of letters, digits and '-', such as litmus-scratch",
    );
  }
  if (requiresCredentials) {
    throw new RegdavError(
      "BAD_REQUEST",
      `${LITMUS_SCRATCH_VARIABLE} serves a folder without authentication and cannot be used ` +
        "with --dav-user; unset it",
    );
  }
}

/**
 * Loads webdav-server and creates the scratch server. The module is loaded
 * only here, because importing it adds about 20 MiB to the resident memory
 * of every regdav process (measured on Node 20), and only this test-only
 * folder uses it.
 */
async function createScratchServer(): Promise<webdav.WebDAVServer> {
  const { v2: webdavServer } = await import("webdav-server");
  // The share's href encoder is process-wide and expects paths, which respondWithPaths gives.
  installHrefEncoder(webdavServer);
  return new webdavServer.WebDAVServer({
    rootFileSystem: new webdavServer.VirtualFileSystem(),
    respondWithPaths: true,
    serverName: "regdav-scratch",
    // Set so that webdav-server does not read its own package.json for it.
    version: "webdav-server",
  });
}
