import { createHash, timingSafeEqual } from "node:crypto";

export interface Credentials {
  username: string;
  password: string;
}

export type AuthenticationResult = "accepted" | "missing" | "rejected";

/**
 * Parses an `Authorization: Basic` header (RFC 7617). The decoded text is
 * UTF-8 and is split at its first colon, so the password may contain `:`,
 * `+`, `/` and any other character. Returns undefined for a missing header,
 * another scheme, invalid base64 or text without a colon.
 */
export function parseBasicAuthorization(header: string | undefined): Credentials | undefined {
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? "");
  if (match === null || match[1] === undefined) return undefined;

  const text = Buffer.from(match[1], "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon === -1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Creates a check of Authorization headers against the expected credentials.
 * Username and password are compared as SHA-256 digests with
 * timingSafeEqual, so the time taken does not depend on where they differ
 * or on their lengths. Both comparisons always run.
 */
export function createBasicAuthenticator(
  expected: Credentials,
): (header: string | undefined) => AuthenticationResult {
  const expectedUsername = digestOf(expected.username);
  const expectedPassword = digestOf(expected.password);

  return (header) => {
    if (header === undefined) return "missing";
    const offered = parseBasicAuthorization(header);
    if (offered === undefined) return "rejected";

    const usernameMatches = timingSafeEqual(digestOf(offered.username), expectedUsername);
    const passwordMatches = timingSafeEqual(digestOf(offered.password), expectedPassword);
    return usernameMatches && passwordMatches ? "accepted" : "rejected";
  };
}

function digestOf(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
