import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { Authorizer } from "./auth.js";
import { readBodySnippet } from "./body.js";
import { findBearerChallenge, parseChallenges } from "./challenge.js";
import { anonymousCredentials, type CredentialStore } from "./credentials.js";
import { HttpClient, TransportError, type HttpClientOptions, type HttpResponse } from "./http.js";
import { loginHint, scopeHint } from "./login-hint.js";
import { pingRegistry, type PingResult } from "./ping.js";
import { RateLimitLog } from "./rate-limit-log.js";
import { errorFromResponse } from "./registry-errors.js";
import { RetrySchedule, type RetryPolicy } from "./retry.js";
import { TokenClient } from "./token.js";

/**
 * Authenticated requests to one registry's `/v2/` API. The first request
 * pings the registry to pick HTTPS or HTTP and learn its challenge. After a
 * 401 the client retries once, with a fresh token for the scopes its
 * challenge names, and a second 401 fails with advice on how to log in.
 * Requests marked `retry` are sent again after 429 and 5xx, as RetryPolicy
 * describes. Every non-2xx response becomes a RegdavError.
 */
export interface RegistryClientOptions {
  /** Registry name as shown, such as `127.0.0.1:5000` or `docker.io`. */
  name: string;
  /** Allows plain HTTP and unverified TLS. */
  insecure?: boolean;
  /** `https:` or `http:` to reach the registry only that way, as for a mirror given by URL. */
  protocol?: "https:" | "http:";
  credentials?: CredentialStore;
  http?: HttpClientOptions;
  /** Clock in milliseconds for token expiry, replaceable in tests. */
  now?: () => number;
  retry?: Partial<RetryPolicy>;
}

export interface RegistryRequest {
  method: "GET" | "HEAD";
  /** A path such as `/v2/library/debian/tags/list?n=1000`, or a URL on the registry's origin. */
  target: string | URL;
  /** Such as `repository:library/debian:pull` or `registry:catalog:*`. */
  scope: string;
  /** The repository whose credentials apply; undefined for the catalog. */
  repository?: string;
  accept?: readonly string[];
  /** More request headers, such as Range. The client sets Accept, Authorization and User-Agent. */
  headers?: Record<string, string>;
  /** Sends the request again after 429 and 5xx. */
  retry?: boolean;
}

export class RegistryClient {
  readonly name: string;
  private readonly insecure: boolean;
  private readonly protocol: "https:" | "http:" | undefined;
  private readonly http: HttpClient;
  private readonly authorizer: Authorizer;
  private readonly retryPolicy: Partial<RetryPolicy>;
  private readonly rateLimits: RateLimitLog;
  private ping: Promise<PingResult> | undefined;

  constructor(options: RegistryClientOptions) {
    this.name = options.name;
    this.insecure = options.insecure ?? false;
    this.protocol = options.protocol;
    this.http = new HttpClient(options.http);
    this.retryPolicy = options.retry ?? {};
    this.rateLimits = new RateLimitLog(options.name);
    const tokens = new TokenClient({
      registry: options.name,
      insecure: this.insecure,
      http: this.http,
      retry: this.retryPolicy,
      ...(options.now && { now: options.now }),
    });
    const credentials = options.credentials ?? anonymousCredentials;
    this.authorizer = new Authorizer({ registry: options.name, credentials, tokens });
  }

  /** Returns the API root, `https://host/v2/` or `http://host/v2/`, pinging on first use. */
  async baseUrl(): Promise<URL> {
    return (await this.endpoint()).baseUrl;
  }

  /** Sends a request and returns its 2xx response, whose body the caller must consume. */
  async request(request: RegistryRequest): Promise<HttpResponse> {
    const endpoint = await this.endpoint();
    const url = new URL(request.target, endpoint.baseUrl);
    if (url.origin !== endpoint.baseUrl.origin) {
      throw new RegdavError(
        "REGISTRY_ERROR",
        `registry ${this.name} linked to another host: ${url.host}`,
      );
    }

    const schedule = new RetrySchedule(request.retry ? this.retryPolicy : { maxRetries: 0 });
    for (;;) {
      const response = await this.sendAuthorized(request, url, endpoint);
      this.rateLimits.observe(response.status, response.headers);
      if (response.status >= 200 && response.status <= 299) return response;

      const attempt = schedule.attempts;
      const delay = schedule.nextDelay(response.status, response.headers);
      if (delay === undefined) throw await this.failure(request, url, response, schedule);
      log.info("registry request failed, retrying", {
        registry: this.name,
        method: request.method,
        path: url.pathname,
        status: response.status,
        attempt,
        delayMs: delay,
      });
      await response.body.dump().catch(() => {});
      await schedule.wait(delay);
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async sendAuthorized(
    request: RegistryRequest,
    url: URL,
    endpoint: PingResult,
  ): Promise<HttpResponse> {
    const response = await this.send(request, url, endpoint, {});
    if (response.status !== 401) return response;
    return this.retryUnauthorized(request, url, endpoint, response);
  }

  /** Retries after a 401: adopts its challenge and resends with a new token for its scopes. */
  private async retryUnauthorized(
    request: RegistryRequest,
    url: URL,
    endpoint: PingResult,
    response: HttpResponse,
  ): Promise<HttpResponse> {
    const challenges = parseChallenges(response.headers["www-authenticate"]);
    if (!this.authorizer.learn(challenges)) return response;

    await readBodySnippet(response, 64 * 1024);
    const extraScopes = this.authorizer.challengedScopes(challenges);
    return this.send(request, url, endpoint, { extraScopes, forceRefresh: true });
  }

  private async send(
    request: RegistryRequest,
    url: URL,
    endpoint: PingResult,
    retry: { extraScopes?: string[]; forceRefresh?: boolean },
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...request.headers };
    if (request.accept) headers.accept = request.accept.join(", ");
    const authorization = await this.authorizer.authorization({
      scope: request.scope,
      ...(request.repository !== undefined && { repository: request.repository }),
      registryProtocol: endpoint.baseUrl.protocol,
      ...retry,
    });
    if (authorization) headers.authorization = authorization;

    const { unverifiedTlsHost } = endpoint;
    try {
      return await this.http.send({ method: request.method, url, headers, unverifiedTlsHost });
    } catch (error) {
      throw this.transportFailure(error);
    }
  }

  /** Builds the final error; a 401 gets advice on logging in, without any secret. */
  private async failure(
    request: RegistryRequest,
    url: URL,
    response: HttpResponse,
    schedule: RetrySchedule,
  ): Promise<RegdavError> {
    const context = { registry: this.name, method: request.method, path: url.pathname };
    const note = schedule.summary();
    if (response.status !== 401) return errorFromResponse(context, response, { note });

    const challenge = findBearerChallenge(parseChallenges(response.headers["www-authenticate"]));
    const credentials = await this.authorizer
      .credentialsFor(request.repository)
      .catch(() => undefined);
    const advice =
      challenge?.error === "insufficient_scope"
        ? scopeHint(this.name, request.scope, credentials)
        : loginHint(this.name, credentials);
    return errorFromResponse(context, response, { note, advice });
  }

  private endpoint(): Promise<PingResult> {
    this.ping ??= this.pingOnce();
    return this.ping;
  }

  private async pingOnce(): Promise<PingResult> {
    try {
      const result = await pingRegistry({
        name: this.name,
        insecure: this.insecure,
        http: this.http,
        ...(this.protocol && { protocol: this.protocol }),
      });
      this.authorizer.learn(result.challenges);
      return result;
    } catch (error) {
      this.ping = undefined; // the next request tries again
      throw error;
    }
  }

  /**
   * Names the registry in a connection failure, and pings again on the next
   * request, because the registry may have changed between HTTP and HTTPS.
   */
  private transportFailure(error: unknown): unknown {
    if (!(error instanceof TransportError)) return error;
    this.ping = undefined;
    return new RegdavError(error.code, `registry ${this.name}: ${error.message}`, { cause: error });
  }
}
