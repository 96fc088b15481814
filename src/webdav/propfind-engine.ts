import { v2 as webdav } from "webdav-server";
import { RegdavError } from "../errors.js";
import type { VirtualTree } from "../tree/virtual-tree.js";
import { CapturedResponse } from "./captured-response.js";
import { TreeFileSystem } from "./file-system.js";
import { encodePathHref, installHrefEncoder } from "./href-encoding.js";
import type { NodeLookup } from "./node-lookup.js";
import type { PropfindDepth } from "./request-guards.js";

/**
 * Maximum time, in ms, for webdav-server to build one multistatus body. The
 * handler fetches the target and its listing before calling in, so this
 * covers only in-memory work. It exists so that a callback that
 * webdav-server never calls cannot hold a request open forever.
 */
const ENGINE_TIMEOUT_MS = 60_000;

export interface PropfindCall {
  segments: readonly string[];
  depth: PropfindDepth;
  /** The request body as text; empty means allprop. */
  body: string;
  lookup: NodeLookup;
}

export interface PropfindOutcome {
  status: number;
  body: string;
}

/**
 * The user that every request runs as inside webdav-server. The share has
 * authenticated the client before it calls in.
 */
const shareReader: webdav.IUser = {
  uid: "regdav-reader",
  username: "regdav-reader",
  isAdministrator: true,
};

const trustAuthenticatedRequests: webdav.HTTPAuthentication = {
  askForAuthentication: () => ({}),
  getUser: (_context, callback) => callback(undefined as unknown as Error, shareReader),
};

/**
 * Builds PROPFIND multistatus bodies with webdav-server 2.6.3. It calls the
 * package's PROPFIND command directly with a synthetic request and a
 * CapturedResponse, so webdav-server never reads a request body, never
 * serves GET or any other method, and never receives a request that the
 * guards rejected. Every other command is removed from its method table.
 */
export class PropfindEngine {
  private readonly fileSystem: TreeFileSystem;
  private readonly server: webdav.WebDAVServer;
  private readonly command: webdav.HTTPMethod;

  constructor(tree: VirtualTree) {
    installHrefEncoder();
    this.fileSystem = new TreeFileSystem(tree);
    this.server = new webdav.WebDAVServer({
      rootFileSystem: this.fileSystem,
      httpAuthentication: trustAuthenticatedRequests,
      // Hrefs as absolute paths: no Host header or scheme is echoed into them.
      respondWithPaths: true,
      maxRequestDepth: 1,
      serverName: "regdav",
      // Set so that webdav-server does not read its own package.json for it.
      version: "webdav-server",
    });
    this.command = takePropfindCommand(this.server);
  }

  run(call: PropfindCall): Promise<PropfindOutcome> {
    const request = syntheticRequest(call);
    this.fileSystem.attach(request, call.lookup);

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(engineTimedOut(request.url)), ENGINE_TIMEOUT_MS);
      const response = new CapturedResponse((finished) => {
        clearTimeout(timer);
        resolve({ status: finished.statusCode, body: finished.body });
      });
      try {
        this.start(request, response, call.body);
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  /** Runs webdav-server's per-request setup, then its PROPFIND command. */
  private start(request: object, response: CapturedResponse, body: string): void {
    const unchunked = this.command.unchunked;
    if (unchunked === undefined) {
      throw new RegdavError("INTERNAL", "webdav-server has no PROPFIND handler");
    }

    webdav.HTTPRequestContext.create(
      this.server,
      request as never,
      response as never,
      (error, context) => {
        if (error) {
          context.setCodeFromError(error);
          response.end();
          return;
        }
        context.exit = () => response.end();
        // A string body is parsed as it is, but a Buffer is copied with the deprecated `new Buffer`.
        unchunked.call(this.command, context, body as unknown as Buffer, context.exit);
      },
    );
  }
}

/** Removes every command but PROPFIND from webdav-server and returns PROPFIND. */
function takePropfindCommand(server: webdav.WebDAVServer): webdav.HTTPMethod {
  const command = server.methods["propfind"];
  if (command === undefined) {
    throw new RegdavError("INTERNAL", "webdav-server has no PROPFIND command");
  }
  for (const name of Object.keys(server.methods)) delete server.methods[name];
  server.method("propfind", command);
  server.onUnknownMethod({
    unchunked: (context, _data, callback) => {
      context.setCode(405);
      callback();
    },
  });
  return command;
}

/**
 * Returns the request object webdav-server reads. Its URL is the path
 * re-encoded per segment, which webdav-server decodes back into the same
 * segments, and only the headers PROPFIND needs are passed. Accept is left
 * out because webdav-server would respond with JSON to `Accept: application/json`.
 * If is left out too, so PROPFIND ignores If conditions, which without
 * locks could only name ETags.
 */
function syntheticRequest(call: PropfindCall) {
  return {
    method: "PROPFIND",
    url: encodePathHref(call.segments, false),
    headers: {
      host: "localhost",
      depth: String(call.depth),
      "content-length": String(Buffer.byteLength(call.body)),
    },
  };
}

function engineTimedOut(url: string): RegdavError {
  return new RegdavError(
    "INTERNAL",
    `webdav-server did not finish PROPFIND ${url} within ${ENGINE_TIMEOUT_MS} ms`,
  );
}
