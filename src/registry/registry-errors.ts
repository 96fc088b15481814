import { STATUS_CODES } from "node:http";

import { RegdavError, type ErrorCode } from "../errors.js";
import { readBodySnippet } from "./body.js";
import { headerValue, type HttpResponse } from "./http.js";
import { redactCredentials } from "./redact.js";

/**
 * Turns a registry's error response into a RegdavError. The distribution
 * spec's error body is `{"errors": [{"code", "message", "detail"}]}`, and its
 * codes and messages go into the error message. The message contains neither
 * the request's Authorization header nor its query string.
 */
export interface RegistryErrorDetail {
  code: string;
  message: string;
}

export interface RequestContext {
  /** Registry name as shown, such as `127.0.0.1:5000`. */
  registry: string;
  method: string;
  /** Request path without the query, such as `/v2/library/debian/manifests/12`. */
  path: string;
}

/** An HTTP error status from a registry, with the error codes from its body. */
export class RegistryResponseError extends RegdavError {
  constructor(
    code: ErrorCode,
    readonly context: RequestContext,
    readonly status: number,
    readonly errors: RegistryErrorDetail[],
    detail: string,
  ) {
    const { registry, method, path } = context;
    const statusText = STATUS_CODES[status] ?? "";
    super(
      code,
      `registry ${registry}: ${method} ${path} returned ${status} ${statusText}${detail}`,
    );
    this.name = "RegistryResponseError";
  }
}

/** Codes of a 404 that mean the thing requested does not exist, not that the path is wrong. */
const notFoundCodes = new Set(["MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"]);
const maxErrorBodyBytes = 64 * 1024;
const maxDetailLength = 500;

/** Text added to a registry error message. */
export interface ErrorAddition {
  /** Appended as is, such as ` (after 5 attempts)`. */
  note?: string;
  /** Appended after a semicolon, such as how to log in. */
  advice?: string;
}

/** Reads the error body (at most 64 KiB) and builds the error for a non-2xx response. */
export async function errorFromResponse(
  context: RequestContext,
  response: HttpResponse,
  addition: ErrorAddition = {},
): Promise<RegistryResponseError> {
  const text = context.method === "HEAD" ? "" : await readBodySnippet(response, maxErrorBodyBytes);
  const errors = parseRegistryErrors(text);
  const code = errorCodeFor(response.status, errors);
  let detail = describeErrors(errors, text) + retryAfterNote(response) + (addition.note ?? "");
  if (addition.advice) detail += `; ${addition.advice}`;
  return new RegistryResponseError(code, context, response.status, errors, detail);
}

/** Extracts `errors[].code` and `errors[].message`; anything else gives an empty list. */
export function parseRegistryErrors(text: string): RegistryErrorDetail[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }

  const list = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return [];
  return list.map((entry: { code?: unknown; message?: unknown } | null) => ({
    code: typeof entry?.code === "string" ? entry.code : "UNKNOWN",
    message: typeof entry?.message === "string" ? entry.message : "",
  }));
}

function errorCodeFor(status: number, errors: RegistryErrorDetail[]): ErrorCode {
  if (status === 401) return "REGISTRY_UNAUTHORIZED";
  if (status === 403) return "REGISTRY_DENIED";
  if (status === 404) {
    const known = errors.length === 0 || errors.some((error) => notFoundCodes.has(error.code));
    return known ? "NOT_FOUND" : "REGISTRY_ERROR";
  }
  return "REGISTRY_ERROR";
}

function describeErrors(errors: RegistryErrorDetail[], text: string): string {
  if (errors.length > 0) {
    const parts = errors.map((error) =>
      error.message ? `${error.code} ${error.message}` : error.code,
    );
    return `: ${truncate(redactCredentials(parts.join("; ")))}`;
  }
  const plain = redactCredentials(text.replace(/\s+/g, " ").trim());
  return plain ? `: ${truncate(plain)}` : "";
}

function retryAfterNote(response: HttpResponse): string {
  const retryAfter = headerValue(response.headers, "retry-after");
  if (response.status === 429) {
    return retryAfter ? ` (rate limited, Retry-After: ${retryAfter})` : " (rate limited)";
  }
  return retryAfter ? ` (Retry-After: ${retryAfter})` : "";
}

function truncate(text: string): string {
  return text.length > maxDetailLength ? `${text.slice(0, maxDetailLength)}...` : text;
}
