import { isIP } from "node:net";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import { apiHostOf } from "../reference/reference.js";
import { readBodySnippet } from "./body.js";
import { parseChallenges, type AuthChallenge } from "./challenge.js";
import { TransportError, type HttpClient } from "./http.js";
import { errorFromResponse } from "./registry-errors.js";

/**
 * Finds how to reach a registry by sending `GET /v2/`, as docker does:
 * HTTPS first, then plain HTTP for an insecure registry (whose certificate is
 * not verified either) and for a loopback one. Plain HTTP is tried only when
 * HTTPS got no HTTP response at all. A registry responds with 200, or with
 * 401 and the challenges for authentication.
 */
export interface PingResult {
  /** `https://host/v2/` or `http://host/v2/`. */
  baseUrl: URL;
  challenges: AuthChallenge[];
  /** Host whose TLS certificate is not verified, for an insecure registry. */
  unverifiedTlsHost?: string;
}

export interface PingOptions {
  /** Registry name as shown, such as `127.0.0.1:5000` or `docker.io`. */
  name: string;
  insecure: boolean;
  http: HttpClient;
  /** Tries only this protocol, as for a mirror given by URL. */
  protocol?: "https:" | "http:";
}

export async function pingRegistry(options: PingOptions): Promise<PingResult> {
  const host = apiHostOf(options.name);
  const failures: TransportError[] = [];
  const protocols = options.protocol ? [options.protocol] : protocolsFor(host, options.insecure);
  for (const protocol of protocols) {
    const baseUrl = new URL(`${protocol}//${host}/v2/`);
    try {
      return await pingOnce(options, baseUrl);
    } catch (error) {
      if (!(error instanceof TransportError)) throw withEarlierFailures(error, failures);
      failures.push(error);
    }
  }
  throw unreachable(options.name, failures);
}

/** Tests for 127.0.0.0/8, ::1 and `localhost`, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .replace(/:\d+$/, "")
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  if (name === "localhost" || name === "::1") return true;
  return isIP(name) === 4 && name.startsWith("127.");
}

function protocolsFor(host: string, insecure: boolean): string[] {
  return insecure || isLoopbackHost(host) ? ["https:", "http:"] : ["https:"];
}

async function pingOnce(options: PingOptions, baseUrl: URL): Promise<PingResult> {
  const unverifiedTlsHost = options.insecure ? baseUrl.host : undefined;
  const response = await options.http.send({ method: "GET", url: baseUrl, unverifiedTlsHost });
  const context = { registry: options.name, method: "GET", path: baseUrl.pathname };
  if (response.status !== 200 && response.status !== 401) {
    throw await errorFromResponse(context, response);
  }

  await readBodySnippet(response, 4096);
  const challenges = parseChallenges(response.headers["www-authenticate"]);
  if (baseUrl.protocol === "http:") {
    log.info("registry reached over plain HTTP", { registry: options.name, url: baseUrl.href });
  }
  const result: PingResult = { baseUrl, challenges };
  if (unverifiedTlsHost !== undefined) result.unverifiedTlsHost = unverifiedTlsHost;
  return result;
}

/** Adds the HTTPS failure to an error of the HTTP attempt, which alone would mislead. */
function withEarlierFailures(error: unknown, failures: TransportError[]): unknown {
  if (failures.length === 0 || !(error instanceof RegdavError)) return error;
  const earlier = failures.map((failure) => failure.message).join("; ");
  const message = `${error.message} (before that, ${earlier})${certificateHint(failures)}`;
  return new RegdavError(error.code, message, { cause: error });
}

function unreachable(name: string, failures: TransportError[]): RegdavError {
  const reasons = failures.map((failure) => failure.message).join("; ");
  const timedOut = failures.every((failure) => failure.code === "TIMEOUT");
  const message = `registry ${name} is unreachable: ${reasons}${certificateHint(failures)}`;
  return new RegdavError(timedOut ? "TIMEOUT" : "REGISTRY_UNREACHABLE", message, {
    cause: failures[0],
  });
}

function certificateHint(failures: TransportError[]): string {
  const certificateFailed = failures.some((failure) => /CERT|certificate/.test(failure.reason));
  return certificateFailed ? "; to skip TLS verification, mark the registry insecure" : "";
}
