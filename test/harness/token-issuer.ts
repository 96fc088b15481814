import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { requireTool, runCommand } from "./tools.js";

/**
 * A token server on loopback for distribution 2.8's `auth: token` mode, by
 * the distribution token spec. GET /token with Basic credentials, `service`,
 * `scope` (repeated) and `account` returns a JWT; POST /token with an OAuth2
 * `refresh_token` or `password` grant returns one as `access_token`. Each
 * token grants the intersection of the requested and the allowed actions,
 * possibly none, as the spec says a server should.
 *
 * The JWTs are ES256. By default their header carries `x5c`, the DER of a
 * signing certificate issued by a test CA, and the registry verifies the
 * chain against the CA in its `rootcertbundle`. With `keyReference: "kid"`
 * the CA key itself signs, and the header names it by its libtrust key ID,
 * which the registry looks up among the keys of its root certificates.
 * Both are the ways distribution 2.8's registry/auth/token/token.go accepts.
 */
export interface TokenUser {
  username: string;
  password: string;
  /** Repositories the user may pull; `*` allows every one. */
  pull: readonly string[];
  /** Whether `registry:catalog:*` is granted. */
  catalog?: boolean;
}

export interface TokenIssuerOptions {
  /** A folder for the keys and certificates; the caller deletes it. */
  directory: string;
  service: string;
  issuer: string;
  users: readonly TokenUser[];
  /** Repositories that anyone may pull without credentials. */
  publicRepositories?: readonly string[];
  keyReference?: "x5c" | "kid";
  /** `expires_in` of issued tokens, in seconds (default 300). */
  expiresIn?: number;
}

export interface TokenRequestRecord {
  method: string;
  /** Path with query, as sent. */
  url: string;
  authorization: string | undefined;
  body: string;
  /** 200, or the error status sent. */
  status: number;
}

export interface TokenIssuer {
  /** `http://127.0.0.1:PORT/token`. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file of the CA, for the registry's `rootcertbundle`. */
  readonly rootCertificateFile: string;
  readonly requests: TokenRequestRecord[];
  /** Creates an identity token (an OAuth2 refresh token) for a user, as docker login stores. */
  createIdentityToken(username: string): string;
  /** Signs a token for the given access, for pushing test content. */
  mint(subject: string, access: readonly Access[]): string;
  /** True to reject every POST with 404, as a token server that implements only GET does. */
  rejectPost: boolean;
  /** A status to send instead of tokens, such as 503; undefined to issue tokens. */
  failWith: number | undefined;
  close(): Promise<void>;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

interface SigningKeys {
  privateKeyPem: string;
  header: Record<string, unknown>;
  rootCertificateFile: string;
}

export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const keys = await makeSigningKeys(options.directory, options.keyReference ?? "x5c");
  const identityTokens = new Map<string, string>();
  const requests: TokenRequestRecord[] = [];

  const issuer: TokenIssuer = {
    realm: "",
    service: options.service,
    issuer: options.issuer,
    rootCertificateFile: keys.rootCertificateFile,
    requests,
    rejectPost: false,
    failWith: undefined,
    createIdentityToken(username) {
      const token = `identity-${randomBytes(12).toString("hex")}`;
      identityTokens.set(token, username);
      return token;
    },
    mint: (subject, access) => signToken(keys, options, subject, access),
    close: async () => {},
  };

  const context = { issuer, options, keys, identityTokens };
  const server = createServer((request, response) => {
    const record = (body: string) => {
      const status = handleTokenRequest(request, body, response, context);
      requests.push({
        method: request.method ?? "",
        url: request.url ?? "",
        authorization: request.headers.authorization,
        body,
        status,
      });
    };
    readBody(request).then(record, () => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return Object.assign(issuer, {
    realm: `http://127.0.0.1:${port}/token`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

interface HandlerContext {
  issuer: TokenIssuer;
  options: TokenIssuerOptions;
  keys: SigningKeys;
  identityTokens: Map<string, string>;
}

/** Sends the response and returns its status. */
function handleTokenRequest(
  request: IncomingMessage,
  body: string,
  response: ServerResponse,
  context: HandlerContext,
): number {
  const url = new URL(request.url ?? "/", "http://token.invalid");
  if (url.pathname !== "/token") return sendJson(response, 404, { details: "not found" });
  if (context.issuer.failWith !== undefined) {
    return sendJson(response, context.issuer.failWith, { details: "token server unavailable" });
  }
  if (request.method === "POST") return handlePost(body, response, context);
  if (request.method !== "GET") return sendJson(response, 405, { details: "use GET or POST" });

  const service = url.searchParams.get("service");
  if (service !== context.options.service) {
    return sendJson(response, 400, { details: `unknown service ${JSON.stringify(service)}` });
  }
  const user = basicUser(request.headers.authorization, context);
  if (user === null) return sendJson(response, 401, { details: "incorrect username or password" });

  const access = grant(url.searchParams.getAll("scope"), user, context.options);
  const token = signToken(context.keys, context.options, user?.username ?? "", access);
  return sendJson(response, 200, tokenBody(token, context.options, "token"));
}

function handlePost(body: string, response: ServerResponse, context: HandlerContext): number {
  if (context.issuer.rejectPost) return sendJson(response, 404, { details: "not found" });
  const form = new URLSearchParams(body);
  if (form.get("service") !== context.options.service) {
    const error = { error: "invalid_request", error_description: "unknown service" };
    return sendJson(response, 400, error);
  }

  let user: TokenUser | undefined;
  const grantType = form.get("grant_type");
  if (grantType === "refresh_token") {
    user = userByName(context.identityTokens.get(form.get("refresh_token") ?? ""), context);
  } else if (grantType === "password") {
    user = checkPassword(form.get("username") ?? "", form.get("password") ?? "", context);
  }
  if (!user) {
    const error = { error: "invalid_grant", error_description: "invalid grant" };
    return sendJson(response, 401, error);
  }

  const scopes = (form.get("scope") ?? "").split(" ").filter((scope) => scope !== "");
  const access = grant(scopes, user, context.options);
  const token = signToken(context.keys, context.options, user.username, access);
  return sendJson(response, 200, tokenBody(token, context.options, "access_token"));
}

/**
 * Returns the user of a Basic header, undefined without one (anonymous), or
 * null for wrong credentials. An empty user name with an identity token as
 * the password is accepted too, as clients send it to a GET-only server.
 */
function basicUser(
  header: string | undefined,
  context: HandlerContext,
): TokenUser | undefined | null {
  if (header === undefined) return undefined;
  if (!header.startsWith("Basic ")) return null;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (username === "") return userByName(context.identityTokens.get(password), context) ?? null;
  return checkPassword(username, password, context) ?? null;
}

function checkPassword(username: string, password: string, context: HandlerContext) {
  const { users } = context.options;
  return users.find((user) => user.username === username && user.password === password);
}

function userByName(username: string | undefined, context: HandlerContext): TokenUser | undefined {
  return context.options.users.find((user) => user.username === username);
}

/** Grants each scope's requested actions that the user may take; `pull` is the only one allowed. */
function grant(
  scopes: readonly string[],
  user: TokenUser | undefined,
  options: TokenIssuerOptions,
): Access[] {
  const access: Access[] = [];
  for (const scope of scopes) {
    const parsed = parseScope(scope);
    if (!parsed) continue;
    const allowed = parsed.actions.filter((action) => mayDo(parsed, action, user, options));
    if (allowed.length > 0) access.push({ ...parsed, actions: allowed });
  }
  return access;
}

/** Parses `type:name:actions`; the name may contain colons, as a host with a port does. */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(","),
  };
}

function mayDo(
  scope: Access,
  action: string,
  user: TokenUser | undefined,
  options: TokenIssuerOptions,
): boolean {
  if (scope.type === "registry") {
    return scope.name === "catalog" && action === "*" && user?.catalog === true;
  }
  if (scope.type !== "repository" || action !== "pull") return false;
  if (options.publicRepositories?.includes(scope.name)) return true;
  return user !== undefined && (user.pull.includes("*") || user.pull.includes(scope.name));
}

function tokenBody(token: string, options: TokenIssuerOptions, field: "token" | "access_token") {
  const expiresIn = options.expiresIn ?? 300;
  return { [field]: token, expires_in: expiresIn, issued_at: new Date().toISOString() };
}

function signToken(
  keys: SigningKeys,
  options: TokenIssuerOptions,
  subject: string,
  access: readonly Access[],
): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: options.issuer,
    sub: subject,
    aud: options.service,
    exp: now + (options.expiresIn ?? 300),
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString("hex"),
    access,
  };
  const header = base64Url(JSON.stringify(keys.header));
  const signingInput = `${header}.${base64Url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s form of an ECDSA signature (RFC 7518, section 3.4), not DER.
  const signature = sign("sha256", Buffer.from(signingInput), {
    key: createPrivateKey(keys.privateKeyPem),
    dsaEncoding: "ieee-p1363",
  });
  return `${signingInput}.${base64Url(signature)}`;
}

/** Creates a P-256 CA and a signing certificate it issued, with the openssl command. */
async function makeSigningKeys(
  directory: string,
  keyReference: "x5c" | "kid",
): Promise<SigningKeys> {
  const openssl = await requireTool("openssl");
  const file = (name: string) => join(directory, name);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  const caSubject = ["-subj", "/CN=regdav test token CA", "-days", "2"];
  const caExtensions = ["-addext", "basicConstraints=critical,CA:TRUE"];
  caExtensions.push("-addext", "keyUsage=critical,keyCertSign");
  const caFiles = ["-keyout", file("ca.key"), "-out", file("ca.pem")];
  await runCommand(openssl, ["req", "-x509", ...newKey, ...caSubject, ...caExtensions, ...caFiles]);

  const signerSubject = ["-subj", "/CN=regdav test token signer"];
  const signerFiles = ["-keyout", file("signer.key"), "-out", file("signer.csr")];
  await runCommand(openssl, ["req", ...newKey, ...signerSubject, ...signerFiles]);

  const extensions = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n";
  await writeFile(file("signer.ext"), extensions);
  const issue = ["x509", "-req", "-in", file("signer.csr"), "-days", "2"];
  issue.push("-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial");
  issue.push("-extfile", file("signer.ext"), "-out", file("signer.pem"));
  await runCommand(openssl, issue);

  const rootCertificateFile = file("ca.pem");
  if (keyReference === "kid") {
    const caKey = await readFile(file("ca.key"), "utf8");
    const header = { typ: "JWT", alg: "ES256", kid: libtrustKeyId(caKey) };
    return { privateKeyPem: caKey, header, rootCertificateFile };
  }
  const signerDer = new X509Certificate(await readFile(file("signer.pem"))).raw;
  return {
    privateKeyPem: await readFile(file("signer.key"), "utf8"),
    header: { typ: "JWT", alg: "ES256", x5c: [signerDer.toString("base64")] },
    rootCertificateFile,
  };
}

/**
 * Computes a key's libtrust key ID: the SHA-256 of its DER public key,
 * truncated to 240 bits, in base32 without padding, as 12 groups of 4
 * characters joined by colons. The kid test in private-registry.test.ts
 * shows that docker-registry 2.8 finds its root key by this ID.
 */
export function libtrustKeyId(privateKeyPem: string): string {
  const der = createPublicKey(privateKeyPem).export({ type: "spki", format: "der" });
  const digest = createHash("sha256").update(der).digest().subarray(0, 30);
  const encoded = base32(digest);
  return encoded.match(/.{4}/g)!.join(":");
}

function base32(bytes: Buffer): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let output = "";
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff; // at most 12 unread bits remain
    bits += 8;
    while (bits >= 5) {
      output += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) output += alphabet[(value << (5 - bits)) & 31];
  return output;
}

function base64Url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): number {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
  return status;
}
