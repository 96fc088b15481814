import type { IncomingMessage, ServerResponse } from "node:http";
import type { VirtualTree } from "../tree/virtual-tree.js";
import type { PropfindDepth } from "./request-guards.js";

/** The services of the share and one checked request, as passed to every request handler. */
export interface ShareRequest {
  tree: VirtualTree;
  request: IncomingMessage;
  response: ServerResponse;
  /** Upper-case request method. */
  method: string;
  /** Decoded path segments; `[]` is the root. */
  segments: string[];
  trailingSlash: boolean;
  /** The PROPFIND Depth, already checked; 1 for other methods. */
  depth: PropfindDepth;
}
