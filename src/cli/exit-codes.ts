import { RegdavError, type ErrorCode } from "../errors.js";
import { UsageError } from "./usage-error.js";

/**
 * Exit codes of the command line, so that scripts can tell the kinds of
 * failure apart without parsing messages.
 */
export const EXIT_OK = 0;
/** The path does not exist, or is a file where a folder is needed (or the reverse). */
export const EXIT_NOT_FOUND = 1;
/** Invalid arguments: an unknown option, a bad value, an invalid image reference. */
export const EXIT_USAGE = 2;
/** The registry failed: unreachable, timed out, denied, or sent content that fails verification. */
export const EXIT_REGISTRY = 3;
/** Any other failure, such as a DEST that cannot be written or unsafe names that `cp` skipped. */
export const EXIT_OTHER = 4;

const exitCodeByErrorCode: Record<ErrorCode, number> = {
  NOT_FOUND: EXIT_NOT_FOUND,
  NOT_A_DIRECTORY: EXIT_NOT_FOUND,
  IS_A_DIRECTORY: EXIT_NOT_FOUND,
  BAD_REQUEST: EXIT_USAGE,
  REGISTRY_UNAUTHORIZED: EXIT_REGISTRY,
  REGISTRY_DENIED: EXIT_REGISTRY,
  REGISTRY_ERROR: EXIT_REGISTRY,
  REGISTRY_UNREACHABLE: EXIT_REGISTRY,
  DIGEST_MISMATCH: EXIT_REGISTRY,
  SIZE_MISMATCH: EXIT_REGISTRY,
  INVALID_MANIFEST: EXIT_REGISTRY,
  INVALID_LAYER: EXIT_REGISTRY,
  PAYLOAD_TOO_LARGE: EXIT_REGISTRY,
  TIMEOUT: EXIT_REGISTRY,
  // The codes below belong to the WebDAV share and are not expected here.
  FORBIDDEN: EXIT_OTHER,
  METHOD_NOT_ALLOWED: EXIT_OTHER,
  RANGE_NOT_SATISFIABLE: EXIT_OTHER,
  UNAUTHORIZED: EXIT_OTHER,
  INTERNAL: EXIT_OTHER,
};

/** Returns the exit code for a thrown value. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || isParseArgsError(error)) return EXIT_USAGE;
  if (error instanceof RegdavError) return exitCodeByErrorCode[error.code];
  return EXIT_OTHER;
}

/** Tests for the errors that node:util parseArgs throws for unknown options and missing values. */
export function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/** Returns the one-line message printed after `regdav: ` for a thrown value. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return unknownOptionMessage(error, text) ?? text.replace(/\s*\n\s*/g, " ");
}

/**
 * Rewrites parseArgs's message for an unknown option, whose hint about
 * positionals that start with `-` ends in an unclosed quote (Node.js
 * 20.20.2).
 */
function unknownOptionMessage(error: unknown, text: string): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return undefined;
  const option = /^Unknown option '([^']*)'/.exec(text)?.[1];
  if (option === undefined) return undefined;
  return `unknown option "${option}": run the command with --help for its options`;
}
