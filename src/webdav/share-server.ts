import http from "node:http";
import https from "node:https";
import type { VirtualTree } from "../tree/virtual-tree.js";
import type { Credentials } from "./basic-auth.js";
import { handleClientError, rejectConnect } from "./client-error.js";
import { withLitmusScratch } from "./litmus-scratch.js";
import { createRequestHandler } from "./request-handler.js";

export interface ShareServerOptions {
  /** The folders and files to serve, read-only. */
  tree: VirtualTree;
  /** Basic credentials every request must present; without them the share is open. */
  auth?: Credentials;
  /** PEM certificate and key; with them the server speaks HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * Creates the HTTP or HTTPS server of the read-only WebDAV share, not yet
 * listening: the caller picks the address with `listen`. Requests that wait
 * for `100 Continue` go through the same handler, which sends it only after
 * the guards and authentication pass, so a rejected client never uploads
 * its body.
 */
export function createShareServer(options: ShareServerOptions): http.Server | https.Server {
  const handler = withLitmusScratch(createRequestHandler(options), {
    requiresCredentials: options.auth !== undefined,
  });
  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler)
    : http.createServer(handler);

  server.on("checkContinue", handler);
  server.on("clientError", handleClientError);
  server.on("connect", rejectConnect);
  return server;
}
