import { Agent, request, type Dispatcher } from "undici";
import type { IncomingHttpHeaders } from "undici/types/header.js";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { version } from "../version.js";

/**
 * The one HTTP client of the registry code: an undici Agent with timeouts,
 * and TLS verification that can be skipped for one insecure registry host.
 * Redirects are followed by hand, so Authorization never leaves the origin it
 * was meant for. A blob's 307 to object storage gets no registry token.
 */
export interface HttpClientOptions {
  /** Maximum time to open a connection, TLS handshake included (default 10 s). */
  connectTimeoutMs?: number;
  /** Maximum wait for the response headers (default 30 s). */
  headersTimeoutMs?: number;
  /** Maximum time between two chunks of a response body (default 60 s). */
  bodyTimeoutMs?: number;
}

export interface HttpRequest {
  method: "GET" | "HEAD" | "POST";
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  /** `host:port` of an insecure registry, whose TLS certificate is not verified. */
  unverifiedTlsHost?: string;
  /** False to return a redirect response instead of following it. */
  followRedirects?: boolean;
}

export type ResponseBody = Dispatcher.ResponseData["body"];

export interface HttpResponse {
  method: string;
  status: number;
  headers: IncomingHttpHeaders;
  /** Must be read or dumped, or the connection is not reused. */
  body: ResponseBody;
  /** The URL that returned this response, after redirects. */
  url: URL;
}

/** A request that got no HTTP response: refused, reset, TLS failure or timeout. */
export class TransportError extends RegdavError {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly reason: string,
    timedOut: boolean,
    cause: unknown,
  ) {
    super(timedOut ? "TIMEOUT" : "REGISTRY_UNREACHABLE", `${method} ${url} failed: ${reason}`, {
      cause,
    });
    this.name = "TransportError";
  }
}

/** Sent on every request to a registry, its token server and its blob storage. */
export const userAgent = `regdav/${version}`;

export const maxRedirects = 10;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const timeoutCodes = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Reads the upstream timeouts from the environment, where tests and slow
 * networks set them: REGDAV_CONNECT_TIMEOUT_MS, and REGDAV_IDLE_TIMEOUT_MS
 * for both the wait for response headers and the wait between two body
 * chunks. A value that is not a positive integer is ignored with a warning.
 */
export function httpOptionsFromEnvironment(env = process.env): HttpClientOptions {
  const options: HttpClientOptions = {};
  const connect = readMilliseconds(env, "REGDAV_CONNECT_TIMEOUT_MS");
  const idle = readMilliseconds(env, "REGDAV_IDLE_TIMEOUT_MS");
  if (connect !== undefined) options.connectTimeoutMs = connect;
  if (idle !== undefined) {
    options.headersTimeoutMs = idle;
    options.bodyTimeoutMs = idle;
  }
  return options;
}

function readMilliseconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (Number.isSafeInteger(value) && value > 0) return value;
  log.warn(`ignoring ${name}: expected a positive number of milliseconds`, { value: text });
  return undefined;
}

export class HttpClient {
  private readonly verified: Agent;
  private unverified: Agent | undefined;

  constructor(private readonly options: HttpClientOptions = {}) {
    this.verified = this.createAgent(true);
  }

  /** Sends a request, following up to 10 redirects unless `followRedirects` is false. */
  async send(initial: HttpRequest): Promise<HttpResponse> {
    const visited = new Set<string>();
    let current = initial;
    for (;;) {
      visited.add(current.url.href);
      const response = await this.sendOnce(current);
      const location = headerValue(response.headers, "location");
      if (
        initial.followRedirects === false ||
        !redirectStatuses.has(response.status) ||
        !location
      ) {
        return response;
      }

      await response.body.dump().catch(ignoreError); // a broken redirect body does not matter
      current = redirectedRequest(initial, current, response.status, location);
      checkRedirect(initial, current.url, visited);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.verified.close(), this.unverified?.close()]);
  }

  private async sendOnce(http: HttpRequest): Promise<HttpResponse> {
    const started = Date.now();
    const target = displayUrl(http.url);
    try {
      const response = await request(http.url, {
        method: http.method,
        headers: { ...http.headers, "user-agent": userAgent },
        body: http.body,
        dispatcher: this.agentFor(http),
      });
      const range = http.headers?.range;
      const fields = { method: http.method, url: target, range, status: response.statusCode };
      log.debug("http request", { ...fields, ms: Date.now() - started });

      // undici emits an AbortError when a body is destroyed before its end,
      // which regdav does on purpose for oversized or unwanted bodies. Readers
      // still get every error through their own listeners or iterators.
      response.body.on("error", ignoreError);
      return {
        method: http.method,
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        url: http.url,
      };
    } catch (error) {
      const failure = transportError(http.method, target, error);
      log.debug("http request failed", {
        url: target,
        ms: Date.now() - started,
        error: failure.message,
      });
      throw failure;
    }
  }

  private agentFor(http: HttpRequest): Agent {
    const skipVerify = http.url.protocol === "https:" && http.url.host === http.unverifiedTlsHost;
    if (!skipVerify) return this.verified;
    this.unverified ??= this.createAgent(false);
    return this.unverified;
  }

  private createAgent(verifyTls: boolean): Agent {
    return new Agent({
      connect: { timeout: this.options.connectTimeoutMs ?? 10_000, rejectUnauthorized: verifyTls },
      headersTimeout: this.options.headersTimeoutMs ?? 30_000,
      bodyTimeout: this.options.bodyTimeoutMs ?? 60_000,
    });
  }
}

/**
 * Builds the request for the next hop. A 303 becomes a GET without a body.
 * Authorization is sent only to the origin of the first request, and a body
 * (a token POST carries a refresh token) is never resent to another origin.
 */
function redirectedRequest(
  initial: HttpRequest,
  current: HttpRequest,
  status: number,
  location: string,
): HttpRequest {
  const url = new URL(location, current.url);
  const headers = { ...initial.headers };
  const crossOrigin = url.origin !== initial.url.origin;
  if (crossOrigin) deleteHeader(headers, "authorization");

  const next: HttpRequest = { ...initial, url, headers };
  if (status === 303 && initial.method !== "HEAD") {
    next.method = "GET";
    delete next.body;
  } else if (crossOrigin && next.body !== undefined) {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `${displayUrl(initial.url)} redirected a ${initial.method} to another host, ${url.host}; ` +
        "the redirect was not followed, because the request body may contain credentials",
    );
  }
  return next;
}

function checkRedirect(initial: HttpRequest, url: URL, visited: Set<string>): void {
  const start = displayUrl(initial.url);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `${start} redirected to unsupported URL ${displayUrl(url)}`,
    );
  }
  if (visited.has(url.href)) {
    throw new RegdavError("REGISTRY_ERROR", `${start} redirected in a loop at ${displayUrl(url)}`);
  }
  if (visited.size > maxRedirects) {
    throw new RegdavError("REGISTRY_ERROR", `${start} redirected more than ${maxRedirects} times`);
  }
}

function deleteHeader(headers: Record<string, string>, name: string): void {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) delete headers[key];
  }
}

function ignoreError(): void {}

/** Returns the first value of a response header. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Returns the URL without its query or credentials, for logs and messages:
 * signed storage URLs and token requests carry secrets in the query.
 */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Wraps an error of the connection or of a body stream, keeping RegdavErrors as they are. */
export function transportError(method: string, url: string, error: unknown): RegdavError {
  if (error instanceof RegdavError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const reason =
    typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return new TransportError(method, url, reason, timeoutCodes.has(String(code)), error);
}
