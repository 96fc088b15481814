/**
 * Removes credentials from text that a registry or token server sent, such
 * as an error body, before the text goes into an error message. Those
 * messages reach the log and the WebDAV client, which may be another person
 * than the owner of the registry login, and a careless server can echo the
 * request's Authorization header or a token in its error body.
 *
 * NOTE: this finds credentials by their form: Basic and Bearer values, JSON
 * web tokens, and token or password fields of JSON and query strings. A
 * password echoed as plain text is not recognized.
 */
export function redactCredentials(text: string): string {
  return text
    .replace(/\b(basic|bearer)(\s+)[A-Za-z0-9._~+/-]+=*/gi, "$1$2[redacted]")
    .replace(/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "[redacted]")
    .replace(secretJsonField, '$1"[redacted]"')
    .replace(secretQueryField, "$1[redacted]");
}

const secretNames = "access_token|refresh_token|identitytoken|token|password|secret";
const secretJsonField = new RegExp(`("(?:${secretNames})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, "gi");
const secretQueryField = new RegExp(`\\b((?:${secretNames})=)[^&\\s"']+`, "gi");
