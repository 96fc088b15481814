/**
 * Error kinds shared by every part of regdav. Each kind maps to one HTTP
 * status for the WebDAV share, in one table, so callers throw by meaning and
 * the adapter decides the status.
 */
export type ErrorCode =
  | "NOT_FOUND"
  | "NOT_A_DIRECTORY"
  | "IS_A_DIRECTORY"
  | "BAD_REQUEST"
  | "FORBIDDEN"
  | "METHOD_NOT_ALLOWED"
  | "RANGE_NOT_SATISFIABLE"
  | "PAYLOAD_TOO_LARGE"
  | "UNAUTHORIZED"
  | "REGISTRY_UNAUTHORIZED"
  | "REGISTRY_DENIED"
  | "REGISTRY_ERROR"
  | "REGISTRY_UNREACHABLE"
  | "DIGEST_MISMATCH"
  | "SIZE_MISMATCH"
  | "INVALID_MANIFEST"
  | "INVALID_LAYER"
  | "TIMEOUT"
  | "INTERNAL";

const httpStatusByCode: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  NOT_A_DIRECTORY: 404,
  IS_A_DIRECTORY: 409,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  METHOD_NOT_ALLOWED: 405,
  RANGE_NOT_SATISFIABLE: 416,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  REGISTRY_UNAUTHORIZED: 401,
  REGISTRY_DENIED: 403,
  REGISTRY_ERROR: 502,
  REGISTRY_UNREACHABLE: 502,
  DIGEST_MISMATCH: 502,
  SIZE_MISMATCH: 502,
  INVALID_MANIFEST: 502,
  INVALID_LAYER: 502,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** An error with a stable code; its message names the offending value. */
export class RegdavError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RegdavError";
    this.code = code;
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }
}

/** Returns the HTTP status for any thrown value: unknown errors are 500. */
export function httpStatusOf(error: unknown): number {
  return error instanceof RegdavError ? error.httpStatus : 500;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof RegdavError && error.code === "NOT_FOUND";
}

export function notFound(message: string): RegdavError {
  return new RegdavError("NOT_FOUND", message);
}
