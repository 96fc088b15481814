import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { httpStatusOf, RegdavError } from "../errors.js";
import { log } from "../log.js";
import type { VirtualTree } from "../tree/virtual-tree.js";
import {
  createBasicAuthenticator,
  type AuthenticationResult,
  type Credentials,
} from "./basic-auth.js";
import { sendError } from "./error-response.js";
import { serveGet } from "./get-handler.js";
import { methodNotAllowed, serveOptions } from "./options-handler.js";
import { servePropfind } from "./propfind-handler.js";
import { hasRequestBody, readBoundedBody } from "./request-body.js";
import { bodyLimitOf, checkDeclaredLength, parsePropfindDepth } from "./request-guards.js";
import { parseRequestPath } from "./request-path.js";
import type { ShareRequest } from "./share-request.js";

type Handler = (share: ShareRequest) => Promise<void> | void;
type ShareServices = Pick<ShareRequest, "tree" | "request" | "response">;
type Authenticator = (header: string | undefined) => AuthenticationResult;

const handlers: Record<string, Handler> = {
  OPTIONS: serveOptions,
  GET: serveGet,
  HEAD: serveGet,
  PROPFIND: servePropfind,
};

/** Maximum length, in characters, of a request path in a log line. */
const LOGGED_PATH_LENGTH = 300;

/**
 * Creates the node:http request listener of the share. Each request runs
 * the guards, then authentication when `auth` is set, then its method's
 * handler. Every error becomes a response and a log line, never a crash.
 */
export function createRequestHandler(options: {
  tree: VirtualTree;
  auth?: Credentials;
}): (request: IncomingMessage, response: ServerResponse) => void {
  const authenticate = options.auth ? createBasicAuthenticator(options.auth) : undefined;

  return (request, response) => {
    // The access line is a debug line, so the listener is skipped when debug is off.
    if (log.enabled("debug")) {
      const started = performance.now();
      response.on("close", () => logRequest(request, response, started));
    }

    const share = { tree: options.tree, request, response };
    handle(share, authenticate).catch((error: unknown) =>
      respondWithError(request, response, error),
    );
  };
}

async function handle(
  services: ShareServices,
  authenticate: Authenticator | undefined,
): Promise<void> {
  const share = checkRequest(services);
  if (authenticate) {
    checkAuthorization(share.request, authenticate(share.request.headers.authorization));
  }

  const handler = handlers[share.method];
  if (handler === undefined) throw methodNotAllowed(share.method);
  await discardSmallBody(share);
  await handler(share);
}

/** Runs the guards that need no tree access: path, declared body length and Depth. */
function checkRequest(services: ShareServices): ShareRequest {
  const { request } = services;
  const method = (request.method ?? "").toUpperCase();
  // `OPTIONS *` concerns the server as a whole, which the response for the root describes.
  const path =
    method === "OPTIONS" && request.url === "*"
      ? { segments: [], trailingSlash: false }
      : parseRequestPath(request.url ?? "");

  const limit = bodyLimitOf(method);
  if (limit !== undefined) checkDeclaredLength(method, request.headers, limit);
  const depth = method === "PROPFIND" ? parsePropfindDepth(request.headers.depth) : 1;

  return { ...services, method, segments: path.segments, trailingSlash: path.trailingSlash, depth };
}

function checkAuthorization(request: IncomingMessage, result: AuthenticationResult): void {
  if (result === "accepted") return;
  if (result === "rejected") {
    log.warn("rejected share credentials", { client: request.socket.remoteAddress });
  }
  throw new RegdavError(
    "UNAUTHORIZED",
    result === "missing" ? "authentication required" : "invalid username or password",
  );
}

/**
 * Reads and drops the body of GET, HEAD and OPTIONS, capped like the
 * declared length, so a chunked body cannot stream without limit.
 */
async function discardSmallBody(share: ShareRequest): Promise<void> {
  if (share.method === "PROPFIND" || !hasRequestBody(share.request)) return;
  const limit = bodyLimitOf(share.method);
  if (limit !== undefined) await readBoundedBody(share.request, share.response, limit);
}

function respondWithError(
  request: IncomingMessage,
  response: ServerResponse,
  error: unknown,
): void {
  if (request.socket.destroyed) {
    log.debug("client closed the connection before the response", {
      path: loggedPath(request),
      error: messageOf(error),
    });
    return;
  }
  logCaughtError(request, error);
  if (response.headersSent) {
    response.destroy();
    return;
  }
  try {
    // Closing drops an unread body, which node:http would otherwise read to the end.
    if (hasRequestBody(request) && !request.readableEnded) {
      response.setHeader("Connection", "close");
    }
    sendError(response, error);
  } catch (sendFailure) {
    log.error("failed to send an error response", {
      path: loggedPath(request),
      error: String(sendFailure),
    });
    response.destroy();
  }
}

/**
 * Logs an error that became a response. A 4xx is the client's doing and
 * goes to debug, so that clients cannot flood the log, and the access line
 * still shows its status. A RegdavError 5xx is an upstream failure and goes
 * to warn. Any other error is a bug and goes to error, with its stack.
 */
function logCaughtError(request: IncomingMessage, error: unknown): void {
  const status = httpStatusOf(error);
  const fields = { method: request.method, path: loggedPath(request), status };

  if (status < 500) {
    log.debug("rejected request", { ...fields, error: messageOf(error) });
  } else if (error instanceof RegdavError) {
    log.warn("request failed", { ...fields, code: error.code, error: error.message });
  } else {
    const stack = error instanceof Error ? error.stack : undefined;
    log.error("unexpected error while serving a request", {
      ...fields,
      error: stack ?? messageOf(error),
    });
  }
}

function logRequest(request: IncomingMessage, response: ServerResponse, started: number): void {
  log.debug("request", {
    method: request.method,
    path: loggedPath(request),
    status: response.statusCode,
    ms: Math.round(performance.now() - started),
    aborted: response.writableFinished ? undefined : true,
  });
}

/** Returns the request path without its query, cut to LOGGED_PATH_LENGTH characters. */
function loggedPath(request: IncomingMessage): string {
  const target = request.url ?? "";
  const path = target.split("?", 1)[0] ?? "";
  return path.length > LOGGED_PATH_LENGTH ? path.slice(0, LOGGED_PATH_LENGTH) + "..." : path;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
