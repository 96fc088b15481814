import { LRUCache } from "lru-cache";

import {
  findBasicChallenge,
  findBearerChallenge,
  type AuthChallenge,
  type BearerChallenge,
} from "./challenge.js";
import type { CredentialStore, Credentials } from "./credentials.js";
import type { TokenClient } from "./token.js";

/**
 * Chooses the Authorization header for registry requests from the registry's
 * last challenge: none, Basic with the stored credentials, or a bearer token
 * for the request's scope. Credentials are sent only after a challenge requests them.
 */
export interface AuthorizerOptions {
  registry: string;
  credentials: CredentialStore;
  tokens: TokenClient;
}

export interface AuthorizationRequest {
  /** Such as `repository:library/debian:pull` or `registry:catalog:*`. */
  scope: string;
  /** The repository whose credentials apply; undefined for the catalog. */
  repository?: string;
  /** `https:` or `http:`, how the registry is reached. */
  registryProtocol: string;
  /** Extra scopes that a 401's challenge asked for. */
  extraScopes?: string[];
  /** Fetch a new token even when the cached one is valid. */
  forceRefresh?: boolean;
}

type Scheme = { kind: "none" } | { kind: "basic" } | ({ kind: "bearer" } & BearerChallenge);

/** How long a credential lookup is reused for Basic auth, which needs it on every request. */
const credentialReuseMs = 60_000;

export class Authorizer {
  private scheme: Scheme = { kind: "none" };
  private readonly credentialCache = new LRUCache<string, Promise<Credentials | undefined>>({
    max: 1000,
    ttl: credentialReuseMs,
  });

  constructor(private readonly options: AuthorizerOptions) {}

  /** Adopts the auth scheme of a response's challenges; returns false when none is usable. */
  learn(challenges: AuthChallenge[]): boolean {
    const bearer = findBearerChallenge(challenges);
    if (bearer) {
      this.scheme = { kind: "bearer", ...bearer };
      return true;
    }
    if (findBasicChallenge(challenges)) {
      this.scheme = { kind: "basic" };
      return true;
    }
    return false;
  }

  /** Returns the scopes a challenge names, such as the one an `insufficient_scope` 401 needs. */
  challengedScopes(challenges: AuthChallenge[]): string[] {
    return findBearerChallenge(challenges)?.scopes ?? [];
  }

  /** Returns the Authorization header value, or undefined when none is needed or possible. */
  async authorization(request: AuthorizationRequest): Promise<string | undefined> {
    const scheme = this.scheme;
    if (scheme.kind === "none") return undefined;
    if (scheme.kind === "basic") return this.basicAuthorization(request.repository);

    const scopes = [...new Set([request.scope, ...(request.extraScopes ?? [])])];
    const token = await this.options.tokens.getToken({
      realm: scheme.realm,
      ...(scheme.service !== undefined && { service: scheme.service }),
      scopes,
      loadCredentials: () => this.loadCredentials(request.repository),
      registryProtocol: request.registryProtocol,
      forceRefresh: request.forceRefresh ?? false,
    });
    return `Bearer ${token}`;
  }

  private async basicAuthorization(repository: string | undefined): Promise<string | undefined> {
    const credentials = await this.loadCredentials(repository);
    if (!credentials || !("username" in credentials)) return undefined;
    const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString(
      "base64",
    );
    return `Basic ${encoded}`;
  }

  /** Returns the credentials for a repository, reusing a lookup of the last minute. */
  credentialsFor(repository: string | undefined): Promise<Credentials | undefined> {
    return this.loadCredentials(repository);
  }

  private loadCredentials(repository: string | undefined): Promise<Credentials | undefined> {
    const key = repository ?? "";
    let pending = this.credentialCache.get(key);
    if (!pending) {
      pending = this.options.credentials.get(this.options.registry, repository);
      pending.catch(() => this.credentialCache.delete(key));
      this.credentialCache.set(key, pending);
    }
    return pending;
  }
}
