/**
 * Parser for WWW-Authenticate headers (RFC 9110, section 11.6.1). One header
 * may carry several challenges, each an auth scheme followed by either a
 * token68 or comma-separated `name=value` parameters, whose values are tokens
 * or quoted strings with backslash escapes. Parsing is lenient: a malformed
 * part is skipped and the challenges before it are kept.
 */
export interface AuthChallenge {
  /** Lowercase scheme, such as `bearer` or `basic`. */
  scheme: string;
  /** Parameters with lowercase names and unquoted values; the first of duplicates wins. */
  params: Record<string, string>;
  token68?: string;
}

/** The parameters of a Bearer challenge that the token flow needs. */
export interface BearerChallenge {
  realm: string;
  service?: string;
  /** Scopes from the `scope` parameter, which separates several with spaces. */
  scopes: string[];
  /** Such as `insufficient_scope` or `invalid_token`, when the registry sends one. */
  error?: string;
}

const tokenChar = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const token68Pattern = /^[A-Za-z0-9\-._~+/]+=*/;

/** Parses one header value, or all values when the header was sent several times. */
export function parseChallenges(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = typeof header === "string" ? [header] : header;
  return values.flatMap((value) => new ChallengeScanner(value).parseAll());
}

/** Returns the first Bearer challenge that has a realm. */
export function findBearerChallenge(challenges: AuthChallenge[]): BearerChallenge | undefined {
  const challenge = challenges.find((c) => c.scheme === "bearer" && c.params.realm);
  if (!challenge) return undefined;

  const { realm, service, scope, error } = challenge.params;
  const bearer: BearerChallenge = { realm: realm!, scopes: splitScopes(scope) };
  if (service !== undefined) bearer.service = service;
  if (error !== undefined) bearer.error = error;
  return bearer;
}

export function findBasicChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === "basic");
}

function splitScopes(scope: string | undefined): string[] {
  return scope === undefined ? [] : scope.split(" ").filter((part) => part.length > 0);
}

class ChallengeScanner {
  private position = 0;

  constructor(private readonly text: string) {}

  parseAll(): AuthChallenge[] {
    const challenges: AuthChallenge[] = [];
    for (;;) {
      this.skip(/[\s,]/);
      if (this.atEnd()) return challenges;

      const scheme = this.readToken();
      if (scheme === "") {
        this.position++; // not a token character: skip it and look for the next scheme
        continue;
      }
      challenges.push(this.parseChallengeBody(scheme.toLowerCase()));
    }
  }

  private parseChallengeBody(scheme: string): AuthChallenge {
    const challenge: AuthChallenge = { scheme, params: {} };
    this.skip(/[ \t]/);

    const token68 = this.readToken68();
    if (token68 !== undefined) {
      challenge.token68 = token68;
      return challenge;
    }

    while (this.readParam(challenge.params)) {
      this.skip(/[ \t]/);
      if (this.peek() !== ",") break;
      this.skip(/[\s,]/);
    }
    return challenge;
  }

  /** Reads `name=value` into `params`. Returns false, consuming nothing, when none follows. */
  private readParam(params: Record<string, string>): boolean {
    const start = this.position;
    const name = this.readToken().toLowerCase();
    this.skip(/[ \t]/);
    if (name === "" || this.peek() !== "=") {
      this.position = start; // a scheme of the next challenge, or nothing
      return false;
    }

    this.position++;
    this.skip(/[ \t]/);
    const value = this.peek() === '"' ? this.readQuoted() : this.readToken();
    if (!Object.hasOwn(params, name)) params[name] = value;
    return true;
  }

  /** Reads a token68 only when it is the whole challenge body, so `realm=x` stays a parameter. */
  private readToken68(): string | undefined {
    const match = token68Pattern.exec(this.text.slice(this.position));
    if (!match) return undefined;

    const after = this.position + match[0].length;
    if (!/^[ \t]*(,|$)/.test(this.text.slice(after))) return undefined;
    this.position = after;
    return match[0];
  }

  private readQuoted(): string {
    let value = "";
    this.position++; // opening quote
    while (!this.atEnd()) {
      const char = this.text[this.position++]!;
      if (char === '"') return value;
      if (char === "\\" && !this.atEnd()) {
        value += this.text[this.position++];
      } else {
        value += char;
      }
    }
    return value; // unterminated: keep what was there
  }

  private readToken(): string {
    const start = this.position;
    while (!this.atEnd() && tokenChar.test(this.text[this.position]!)) this.position++;
    return this.text.slice(start, this.position);
  }

  private skip(pattern: RegExp): void {
    while (!this.atEnd() && pattern.test(this.text[this.position]!)) this.position++;
  }

  private peek(): string | undefined {
    return this.text[this.position];
  }

  private atEnd(): boolean {
    return this.position >= this.text.length;
  }
}
