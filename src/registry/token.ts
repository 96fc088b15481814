import { STATUS_CODES } from "node:http";
import { LRUCache } from "lru-cache";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { readBodySnippet, readBoundedBody } from "./body.js";
import type { Credentials } from "./credentials.js";
import { displayUrl, type HttpClient, type HttpRequest, type HttpResponse } from "./http.js";
import { loginHint } from "./login-hint.js";
import { RetrySchedule, type RetryPolicy } from "./retry.js";
import { parseTokenResponse, tokenErrorDetail, type IssuedToken } from "./token-response.js";

/**
 * The bearer token flow of the distribution token spec. A token is fetched
 * from the realm of the registry's challenge with `service` and one `scope`
 * parameter per scope. It is cached per realm, service and scopes until
 * shortly before it expires, and concurrent requests for one key share a
 * single fetch. With a user name and password the request is a GET with Basic
 * auth and `account`. An identity token is exchanged by the OAuth2
 * refresh-token POST, as docker does after `docker login` with a token, and
 * by a GET when the realm rejects that POST with 404 or 405. A refresh token
 * that the server returns is used for the realm's later tokens. Token
 * requests that get 429 or 5xx are retried as RetryPolicy describes, and a
 * rejected login is not sent again for 10 s.
 */
export interface TokenRequest {
  realm: string;
  service?: string;
  scopes: string[];
  /** Called only when a new token has to be fetched. */
  loadCredentials: () => Promise<Credentials | undefined>;
  /** `https:` or `http:`: how the registry itself is reached. */
  registryProtocol: string;
  /** True after a 401 to a request that carried the cached token. */
  forceRefresh?: boolean;
}

export interface TokenClientOptions {
  /** Registry name as shown, for messages. */
  registry: string;
  /** An insecure registry may send credentials to a plain-HTTP realm. */
  insecure: boolean;
  http: HttpClient;
  /** Clock in milliseconds, replaceable in tests. */
  now?: () => number;
  retry?: Partial<RetryPolicy>;
}

/** Maximum size of a token response; real ones are a few KiB. */
export const maxTokenResponseBytes = 1024 * 1024;
const oauthClientId = "regdav";
/** Statuses that a token server implementing only GET returns for the OAuth2 POST. */
const postUnsupported = new Set([404, 405]);
/**
 * How long a rejected login is remembered, so that a file manager's retries
 * do not send the same wrong password over and over, which can lock an account.
 */
const rejectedLoginMs = 10_000;

export class TokenClient {
  private readonly cache = new LRUCache<string, IssuedToken>({ max: 500 });
  private readonly inFlight = new Map<string, Promise<IssuedToken>>();
  private readonly rejected = new LRUCache<string, RegdavError>({
    max: 500,
    ttl: rejectedLoginMs,
  });
  /** Refresh tokens that token servers returned, per realm and service. */
  private readonly refreshTokens = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly options: TokenClientOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Returns a token for the request's scopes, from the cache unless it is due for renewal. */
  async getToken(request: TokenRequest): Promise<string> {
    const key = cacheKey(request);
    if (request.forceRefresh) this.cache.delete(key);
    const cached = this.cache.get(key);
    if (cached && this.now() < cached.renewAt) return cached.token;
    const rejected = this.rejected.get(key);
    if (rejected) {
      if (cached && this.now() < cached.expiresAt) return cached.token;
      throw rejected;
    }

    let issued: IssuedToken;
    try {
      issued = await this.sharedFetch(key, request);
    } catch (error) {
      if (error instanceof RegdavError && error.code === "REGISTRY_UNAUTHORIZED") {
        this.rejected.set(key, error);
      }
      // Renewal starts before expiry, so a token that is still valid outlives a failed renewal.
      if (!cached || this.now() >= cached.expiresAt) throw error;
      log.warn("token renewal failed, using the current token until it expires", {
        registry: this.options.registry,
        error: error instanceof Error ? error.message : String(error),
      });
      return cached.token;
    }
    this.cache.set(key, issued);
    return issued.token;
  }

  private sharedFetch(key: string, request: TokenRequest): Promise<IssuedToken> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetchToken(request).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(request: TokenRequest): Promise<IssuedToken> {
    const realm = parseRealm(request.realm, this.options.registry);
    const credentials = await request.loadCredentials();
    const grantKey = JSON.stringify([request.realm, request.service ?? ""]);
    const refreshToken = this.refreshTokens.get(grantKey);
    if (credentials || refreshToken) this.checkRealmProtocol(realm, request.registryProtocol);

    let issued: IssuedToken | undefined;
    if (refreshToken !== undefined) {
      issued = await this.exchangeKnownRefreshToken(realm, request, refreshToken);
    }
    if (!issued) {
      this.refreshTokens.delete(grantKey);
      issued = await this.requestToken(realm, request, credentials);
    }

    if (issued.refreshToken !== undefined) this.refreshTokens.set(grantKey, issued.refreshToken);
    log.debug("token issued", { realm: displayUrl(realm), scopes: request.scopes.join(" ") });
    return issued;
  }

  /** Uses a refresh token the server returned before; undefined when the server rejects it. */
  private async exchangeKnownRefreshToken(
    realm: URL,
    request: TokenRequest,
    refreshToken: string,
  ): Promise<IssuedToken | undefined> {
    const { response, schedule } = await this.send(refreshRequest(realm, request, refreshToken));
    if (response.status === 200) return this.readToken(response, realm);
    if (response.status >= 500 || response.status === 429) {
      throw await this.tokenError(realm, response, undefined, schedule);
    }
    await readBodySnippet(response, 64 * 1024);
    log.info("token server rejected its refresh token, using the stored credentials", {
      realm: displayUrl(realm),
      status: response.status,
    });
    return undefined;
  }

  private async requestToken(
    realm: URL,
    request: TokenRequest,
    credentials: Credentials | undefined,
  ): Promise<IssuedToken> {
    if (credentials && "identityToken" in credentials) {
      const post = refreshRequest(realm, request, credentials.identityToken);
      const { response, schedule } = await this.send(post);
      if (!postUnsupported.has(response.status)) {
        return this.checkedToken(realm, response, credentials, schedule);
      }

      await readBodySnippet(response, 64 * 1024);
      log.info("token server does not accept the OAuth2 POST, using GET", {
        realm: displayUrl(realm),
        status: response.status,
      });
    }

    const { response, schedule } = await this.send(getRequest(realm, request, credentials));
    return this.checkedToken(realm, response, credentials, schedule);
  }

  private async checkedToken(
    realm: URL,
    response: HttpResponse,
    credentials: Credentials | undefined,
    schedule: RetrySchedule,
  ): Promise<IssuedToken> {
    if (response.status !== 200) {
      throw await this.tokenError(realm, response, credentials, schedule);
    }
    return this.readToken(response, realm);
  }

  private async readToken(response: HttpResponse, realm: URL): Promise<IssuedToken> {
    const server = displayUrl(realm);
    const body = await readBoundedBody(response, maxTokenResponseBytes, (size) => {
      return new RegdavError("REGISTRY_ERROR", `token server ${server} sent a response of ${size}`);
    });
    return parseTokenResponse(body, this.now(), server);
  }

  /** Sends a token request, again after 429 or 5xx. Returns the last response. */
  private async send(http: HttpRequest) {
    const schedule = new RetrySchedule(this.options.retry);
    for (;;) {
      const response = await this.options.http.send(http);
      const attempt = schedule.attempts;
      const delay = schedule.nextDelay(response.status, response.headers);
      if (delay === undefined) return { response, schedule };

      log.info("token request failed, retrying", {
        registry: this.options.registry,
        realm: displayUrl(http.url),
        status: response.status,
        attempt,
        delayMs: delay,
      });
      await response.body.dump().catch(() => {});
      await schedule.wait(delay);
    }
  }

  /** Rejects sending credentials over plain HTTP when the registry itself uses HTTPS. */
  private checkRealmProtocol(realm: URL, registryProtocol: string): void {
    if (realm.protocol === "https:" || registryProtocol === "http:" || this.options.insecure)
      return;
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${this.options.registry} uses HTTPS but its token realm ${displayUrl(realm)} ` +
        `is plain HTTP, so the credentials were not sent; mark the registry insecure to allow it`,
    );
  }

  private async tokenError(
    realm: URL,
    response: HttpResponse,
    credentials: Credentials | undefined,
    schedule: RetrySchedule,
  ): Promise<RegdavError> {
    const { status } = response;
    const detail = tokenErrorDetail(await readBodySnippet(response, 64 * 1024));
    const rejected = status === 401 || status === 403;
    const reason = detail ? `: ${detail}` : "";
    const advice = rejected ? `; ${loginHint(this.options.registry, credentials)}` : "";
    return new RegdavError(
      rejected ? "REGISTRY_UNAUTHORIZED" : "REGISTRY_ERROR",
      `token server ${displayUrl(realm)} for registry ${this.options.registry} returned ` +
        `${status} ${STATUS_CODES[status] ?? ""}${reason}${schedule.summary()}${advice}`,
    );
  }
}

function cacheKey(request: TokenRequest): string {
  const scopes = [...new Set(request.scopes)].sort().join(" ");
  return JSON.stringify([request.realm, request.service ?? "", scopes]);
}

function parseRealm(realm: string, registry: string): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegdavError("REGISTRY_ERROR", `registry ${registry} sent an invalid token realm`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RegdavError(
      "REGISTRY_ERROR",
      `registry ${registry} sent a token realm that is not HTTP(S)`,
    );
  }
  return url;
}

/** Builds the OAuth2 refresh-token grant (RFC 6749, section 6), a form POST. */
function refreshRequest(realm: URL, request: TokenRequest, refreshToken: string): HttpRequest {
  const form = new URLSearchParams({ grant_type: "refresh_token", client_id: oauthClientId });
  if (request.service !== undefined) form.set("service", request.service);
  form.set("scope", request.scopes.join(" "));
  form.set("refresh_token", refreshToken);
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  return { method: "POST", url: realm, headers, body: form.toString() };
}

/**
 * Builds the token spec's GET. An identity token goes in as the Basic
 * password with an empty user name.
 *
 * NOTE: the token spec defines this GET only for a user name and password;
 * how a GET-only server takes an identity token is a convention of clients,
 * tested here only against the test token server.
 */
function getRequest(
  realm: URL,
  request: TokenRequest,
  credentials: Credentials | undefined,
): HttpRequest {
  const url = new URL(realm);
  if (request.service !== undefined) url.searchParams.set("service", request.service);
  for (const scope of request.scopes) url.searchParams.append("scope", scope);
  const headers: Record<string, string> = { accept: "application/json" };
  if (credentials) {
    const [username, password] =
      "identityToken" in credentials
        ? ["", credentials.identityToken]
        : [credentials.username, credentials.password];
    if (username !== "") url.searchParams.set("account", username);
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return { method: "GET", url, headers };
}
