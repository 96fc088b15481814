import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A fault-injecting HTTP proxy for tests: a loopback listener in front of one
 * upstream server (the test registry) that forwards every request unchanged
 * unless a fault rule matches it. Each rule matches by method and path
 * pattern and applies a limited number of times, so a test can make the
 * first blob download fail and the next one succeed. Every request is
 * recorded, so tests can count what reached the registry.
 */
export type Fault =
  /** Sends the headers and `afterBytes` of the body, then resets the connection (TCP RST). */
  | { kind: "reset"; afterBytes: number }
  /** Responds with this status, such as 500, 502, 503, 504 or 429, without asking upstream. */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /**
   * Sends only the first `bytes` of the body. `close` keeps the
   * Content-Length and closes the connection after them. `chunked` drops the
   * Content-Length and ends the chunked body cleanly. `length` declares
   * `bytes` as the Content-Length.
   */
  | { kind: "truncate"; bytes: number; mode: "close" | "chunked" | "length" }
  /** Flips every bit of the body byte at `offset`. */
  | { kind: "corrupt"; offset: number }
  /** Sends the body in pieces of `chunkBytes`, one every `intervalMs`. */
  | { kind: "trickle"; chunkBytes: number; intervalMs: number }
  /**
   * Keeps the connection open and sends nothing more: no response at all
   * without `afterBytes`, else the headers and that many body bytes.
   */
  | { kind: "stall"; afterBytes?: number }
  /** Redirects (307) to the URL with `?loop=1`, and that URL to itself, forever. */
  | { kind: "redirect-loop" }
  /** Redirects through `hops` distinct URLs (`?hop=1&hops=H`, ...) before forwarding. */
  | { kind: "redirect-chain"; hops: number }
  /** Forwards without the Range header, as a registry that ignores Range would respond. */
  | { kind: "ignore-range" }
  /** Responds 500 with the request's Authorization header in its body, as careless servers do. */
  | { kind: "echo-authorization" };

export interface FaultRule {
  /** Matched against the request path without the query. */
  path: RegExp;
  /** Default: any method. */
  method?: string;
  /** How many matching requests get the fault; default unlimited. */
  times?: number;
  fault: Fault;
}

export interface ActiveRule {
  readonly rule: FaultRule;
  /** Requests that got the fault so far. */
  readonly hits: number;
  /** Removes this rule alone, so that tests running at once keep their own rules. */
  remove(): void;
}

export interface ProxiedRequest {
  method: string;
  /** The path with its query, as received. */
  url: string;
  /** The Range header, when sent. */
  range?: string;
  authorization?: string;
  /** The kind of fault applied, when one was. */
  fault?: Fault["kind"];
  /** The status sent to the client, once headers went out. */
  status?: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, to pass as regdav's `--registry`. */
  readonly host: string;
  /** Every request received, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** Adds a rule. Rules are tried in the order added, and the first one with hits left applies. */
  addFault(rule: FaultRule): ActiveRule;
  /** Removes every rule, so that requests are forwarded unchanged again. */
  clearFaults(): void;
  /** Counts requests whose path matches `path`, of `method` when given. */
  count(path: RegExp, method?: string): number;
  /** Forgets the recorded requests. */
  resetLog(): void;
  /** Closes the listener and every open connection, stalled ones included. */
  close(): Promise<void>;
}

interface RuleState {
  rule: FaultRule;
  hits: number;
}

/** Starts a proxy on a free loopback port that forwards to `upstreamHost` (`127.0.0.1:PORT`). */
export async function startFaultProxy(upstreamHost: string): Promise<FaultProxy> {
  const rules: RuleState[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const agent = new http.Agent({ keepAlive: false });
  const upstream = parseHost(upstreamHost);

  const server = http.createServer((request, response) => {
    const record: ProxiedRequest = { method: request.method ?? "", url: request.url ?? "" };
    if (typeof request.headers.range === "string") record.range = request.headers.range;
    if (request.headers.authorization) record.authorization = request.headers.authorization;
    requests.push(record);
    response.on("finish", () => (record.status = response.statusCode));
    response.on("close", () => (record.status ??= response.headersSent ? response.statusCode : 0));

    const fault = continuedFault(request) ?? takeFault(rules, request);
    if (fault) record.fault = fault.kind;
    const context: FaultContext = { request, response, fault, upstream, agent, timers };
    handleRequest(context);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    requests,
    addFault(rule) {
      const state: RuleState = { rule, hits: 0 };
      rules.push(state);
      return {
        rule,
        get hits() {
          return state.hits;
        },
        remove: () => {
          const position = rules.indexOf(state);
          if (position !== -1) rules.splice(position, 1);
        },
      };
    },
    clearFaults: () => void rules.splice(0),
    count: (path, method) =>
      requests.filter(
        (entry) =>
          path.test(pathOf(entry.url)) && (method === undefined || entry.method === method),
      ).length,
    resetLog: () => void requests.splice(0),
    close: async () => {
      rules.splice(0);
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface FaultContext {
  request: IncomingMessage;
  response: ServerResponse;
  fault: Fault | undefined;
  upstream: { hostname: string; port: number };
  agent: http.Agent;
  timers: Set<NodeJS.Timeout>;
}

function takeFault(rules: RuleState[], request: IncomingMessage): Fault | undefined {
  const path = pathOf(request.url ?? "");
  for (const state of rules) {
    const { rule } = state;
    if (rule.method !== undefined && rule.method !== request.method) continue;
    if (!rule.path.test(path)) continue;
    if (rule.times !== undefined && state.hits >= rule.times) continue;
    state.hits++;
    return rule.fault;
  }
  return undefined;
}

/** Responds to the request itself when the fault needs no upstream response, else forwards it. */
function handleRequest(context: FaultContext): void {
  const { request, response, fault } = context;
  switch (fault?.kind) {
    case "status":
      respond(response, fault.status, fault.body ?? `injected ${fault.status}\n`, fault.headers);
      return;
    case "echo-authorization":
      respond(
        response,
        500,
        `server error; request had Authorization: ${request.headers.authorization ?? "none"}\n`,
      );
      return;
    case "redirect-loop":
      respond(response, 307, "", { location: withQuery(request, { loop: "1" }) });
      return;
    case "redirect-chain":
      if (redirectToNextHop(request, response, fault.hops)) return;
      break;
    case "stall":
      if (fault.afterBytes === undefined) return; // the connection stays open until close()
      break;
  }
  forward(context);
}

/**
 * Sends a redirect to the next `?hop=N&hops=H` URL and returns true, or
 * false after the last hop. The query carries the chain's state, so the
 * later hops continue it whatever the rule's count.
 */
function redirectToNextHop(request: IncomingMessage, response: ServerResponse, hops: number) {
  const query = new URL(request.url ?? "/", "http://proxy").searchParams;
  const hop = Number(query.get("hop") ?? "0");
  if (hop >= hops) return false;
  const location = withQuery(request, { hop: String(hop + 1), hops: String(hops) });
  respond(response, 307, "", { location });
  return true;
}

/** Returns the request's path and query with `parameters` set. */
function withQuery(request: IncomingMessage, parameters: Record<string, string>): string {
  const url = new URL(request.url ?? "/", "http://proxy");
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url.pathname + url.search;
}

/** Returns the fault that a redirect URL of an earlier fault continues, if any. */
function continuedFault(request: IncomingMessage): Fault | undefined {
  const query = new URL(request.url ?? "/", "http://proxy").searchParams;
  if (query.has("loop")) return { kind: "redirect-loop" };
  const hops = Number(query.get("hops"));
  return hops > 0 ? { kind: "redirect-chain", hops } : undefined;
}

function forward(context: FaultContext): void {
  const { request, response, fault, upstream, agent } = context;
  const headers = { ...request.headers };
  if (fault?.kind === "ignore-range") delete headers.range;
  const url = new URL(request.url ?? "/", "http://proxy");
  for (const name of ["hop", "hops", "loop"]) url.searchParams.delete(name);

  const upstreamRequest = http.request({
    hostname: upstream.hostname,
    port: upstream.port,
    method: request.method,
    path: url.pathname + url.search,
    headers,
    agent,
  });
  upstreamRequest.on("response", (upstreamResponse) => relay(context, upstreamResponse));
  upstreamRequest.on("error", () => response.destroy());
  response.on("close", () => upstreamRequest.destroy());
  request.pipe(upstreamRequest);
}

/** Sends the upstream response to the client, with the fault applied to its body. */
function relay(context: FaultContext, upstream: IncomingMessage): void {
  const { response, fault } = context;
  const headers = { ...upstream.headers };
  if (fault?.kind === "truncate" && fault.mode === "chunked") delete headers["content-length"];
  if (fault?.kind === "truncate" && fault.mode === "length") {
    const declared = Number(headers["content-length"] ?? Infinity);
    headers["content-length"] = String(Math.min(declared, fault.bytes));
  }
  response.writeHead(upstream.statusCode ?? 502, headers);
  response.flushHeaders();

  const body = new BodyFault(context, upstream);
  upstream.on("data", (chunk: Buffer) => body.push(chunk));
  upstream.on("end", () => body.end());
  upstream.on("error", () => response.destroy());
}

/** Applies a fault to a response body chunk by chunk, as it arrives from upstream. */
class BodyFault {
  private sent = 0;
  private stopped = false;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private trickling = false;

  constructor(
    private readonly context: FaultContext,
    private readonly upstream: IncomingMessage,
  ) {}

  push(chunk: Buffer): void {
    if (this.stopped) return;
    const fault = this.context.fault;
    if (fault?.kind === "trickle") {
      this.queue.push(chunk);
      this.queued += chunk.length;
      // Keeps a few pieces queued, so that each interval can send a whole piece.
      if (this.queued >= 4 * fault.chunkBytes) this.upstream.pause();
      this.trickle(fault.chunkBytes, fault.intervalMs);
      return;
    }
    if (fault?.kind === "corrupt") chunk = this.flipByte(chunk, fault.offset);
    const limit = this.limit();
    if (limit === undefined) {
      this.write(chunk);
      return;
    }
    this.write(chunk.subarray(0, Math.max(0, limit - this.sent)));
    if (this.sent >= limit) this.stop();
  }

  end(): void {
    this.ended = true;
    if (this.stopped || this.trickling) return;
    this.context.response.end();
  }

  /** Bytes after which the fault cuts the body, or undefined when it does not. */
  private limit(): number | undefined {
    const fault = this.context.fault;
    if (fault?.kind === "reset") return fault.afterBytes;
    if (fault?.kind === "truncate") return fault.bytes;
    if (fault?.kind === "stall") return fault.afterBytes;
    return undefined;
  }

  private write(chunk: Buffer): void {
    if (chunk.length === 0 || this.context.response.destroyed) return;
    this.sent += chunk.length;
    this.context.response.write(chunk);
  }

  private flipByte(chunk: Buffer, offset: number): Buffer {
    const position = offset - this.sent;
    if (position < 0 || position >= chunk.length) return chunk;
    const copy = Buffer.from(chunk);
    copy[position] = copy[position]! ^ 0xff;
    return copy;
  }

  private stop(): void {
    this.stopped = true;
    this.upstream.destroy();
    const { response } = this.context;
    const fault = this.context.fault;
    if (fault?.kind === "reset") {
      // Waits for the written bytes to leave before the reset, so the client gets them first.
      response.write("", () => response.socket?.resetAndDestroy());
    } else if (fault?.kind === "truncate" && fault.mode === "close") {
      response.write("", () => response.socket?.end());
    } else if (fault?.kind === "truncate") {
      response.end();
    }
    // A stall keeps the connection open with nothing more to send.
  }

  /** Removes up to `count` bytes from the front of the queue and returns them. */
  private takeQueued(count: number): Buffer {
    const pieces: Buffer[] = [];
    let taken = 0;
    while (taken < count && this.queue.length > 0) {
      const next = this.queue[0]!;
      const piece = next.subarray(0, count - taken);
      pieces.push(piece);
      taken += piece.length;
      if (piece.length === next.length) this.queue.shift();
      else this.queue[0] = next.subarray(piece.length);
    }
    this.queued -= taken;
    return Buffer.concat(pieces);
  }

  private trickle(chunkBytes: number, intervalMs: number): void {
    if (this.trickling) return;
    this.trickling = true;
    const step = () => {
      this.context.timers.delete(timer);
      if (this.context.response.destroyed) return;
      if (this.queue.length === 0) {
        this.trickling = false;
        if (this.ended) this.context.response.end();
        else this.upstream.resume();
        return;
      }
      this.write(this.takeQueued(chunkBytes));
      if (this.queued < 4 * chunkBytes) this.upstream.resume();
      timer = setTimeout(step, intervalMs);
      this.context.timers.add(timer);
    };
    let timer = setTimeout(step, intervalMs);
    this.context.timers.add(timer);
  }
}

function respond(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
}

function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function parseHost(host: string): { hostname: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(host);
  if (!match) throw new Error(`invalid upstream host ${JSON.stringify(host)}: use HOST:PORT`);
  return { hostname: match[1]!, port: Number(match[2]) };
}
