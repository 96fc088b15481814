import { STATUS_CODES } from "node:http";
import { LRUCache } from "lru-cache";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { readBodySnippet, readBoundedBody } from "./body.js";
import type { Credentials } from "./credentials.js";
import { displayUrl, type HttpClient, type HttpRequest } from "./http.js";
import { parseTokenResponse, tokenErrorDetail, type IssuedToken } from "./token-response.js";

/**
 * The bearer token flow of the distribution token spec. A token is fetched
 * from the realm of the registry's challenge with `service` and one `scope`
 * parameter per scope. It is cached per realm, service and scopes until
 * shortly before it expires, and concurrent requests for one key share a
 * single fetch. With a user name and password the request is a GET with Basic
 * auth and `account`. An identity token is exchanged by the OAuth2
 * refresh-token POST, as docker does after `docker login` with a token.
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
}

/** Maximum size of a token response; real ones are a few KiB. */
export const maxTokenResponseBytes = 1024 * 1024;
const oauthClientId = "regdav";

export class TokenClient {
  private readonly cache = new LRUCache<string, IssuedToken>({ max: 500 });
  private readonly inFlight = new Map<string, Promise<IssuedToken>>();
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

    let issued: IssuedToken;
    try {
      issued = await this.sharedFetch(key, request);
    } catch (error) {
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
    if (credentials) this.checkRealmProtocol(realm, request.registryProtocol);

    const response = await this.options.http.send(tokenHttpRequest(realm, request, credentials));
    const server = displayUrl(realm);
    if (response.status !== 200) {
      const detail = tokenErrorDetail(await readBodySnippet(response, 64 * 1024));
      throw this.tokenError(server, response.status, detail, credentials !== undefined);
    }

    const body = await readBoundedBody(response, maxTokenResponseBytes, (size) => {
      return new RegdavError("REGISTRY_ERROR", `token server ${server} sent a response of ${size}`);
    });
    const issued = parseTokenResponse(body, this.now(), server);
    log.debug("token issued", { realm: server, scopes: request.scopes.join(" ") });
    return issued;
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

  private tokenError(server: string, status: number, detail: string, withCredentials: boolean) {
    const rejected = status === 401 || status === 403;
    const code = rejected ? "REGISTRY_UNAUTHORIZED" : "REGISTRY_ERROR";
    const hint = rejected && withCredentials ? " (check the login in docker's config.json)" : "";
    const reason = detail ? `: ${detail}` : "";
    return new RegdavError(
      code,
      `token server ${server} for registry ${this.options.registry} returned ` +
        `${status} ${STATUS_CODES[status] ?? ""}${reason}${hint}`,
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

function tokenHttpRequest(
  realm: URL,
  request: TokenRequest,
  credentials: Credentials | undefined,
): HttpRequest {
  if (credentials && "identityToken" in credentials) {
    const form = new URLSearchParams({ grant_type: "refresh_token", client_id: oauthClientId });
    if (request.service !== undefined) form.set("service", request.service);
    form.set("scope", request.scopes.join(" "));
    form.set("refresh_token", credentials.identityToken);
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    return { method: "POST", url: realm, headers, body: form.toString() };
  }

  const url = new URL(realm);
  if (request.service !== undefined) url.searchParams.set("service", request.service);
  for (const scope of request.scopes) url.searchParams.append("scope", scope);
  const headers: Record<string, string> = { accept: "application/json" };
  if (credentials) {
    url.searchParams.set("account", credentials.username);
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
    headers.authorization = `Basic ${basic}`;
  }
  return { method: "GET", url, headers };
}
