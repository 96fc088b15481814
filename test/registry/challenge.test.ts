import { describe, expect, it } from "vitest";

import {
  findBasicChallenge,
  findBearerChallenge,
  parseChallenges,
  type AuthChallenge,
} from "../../src/registry/challenge.js";

const parseCases: [string, AuthChallenge[]][] = [
  [
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
    [
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" },
      },
    ],
  ],
  [
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull"',
    [
      {
        scheme: "bearer",
        params: {
          realm: "https://ghcr.io/token",
          service: "ghcr.io",
          scope: "repository:org/app:pull",
        },
      },
    ],
  ],
  ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
  ["BASIC Realm=simple", [{ scheme: "basic", params: { realm: "simple" } }]],
  [
    'Basic realm="basic", Bearer realm="https://a.example/token", service="a"',
    [
      { scheme: "basic", params: { realm: "basic" } },
      { scheme: "bearer", params: { realm: "https://a.example/token", service: "a" } },
    ],
  ],
  [
    'Negotiate, NTLM abc123+/==, Bearer realm="r"',
    [
      { scheme: "negotiate", params: {} },
      { scheme: "ntlm", params: {}, token68: "abc123+/==" },
      { scheme: "bearer", params: { realm: "r" } },
    ],
  ],
  [
    'Bearer realm="a \\"quoted\\" \\\\ realm", service = "svc" , error=invalid_token',
    [
      {
        scheme: "bearer",
        params: { realm: 'a "quoted" \\ realm', service: "svc", error: "invalid_token" },
      },
    ],
  ],
  [
    'Bearer realm="a,b", scope="repository:x:pull,push"',
    [{ scheme: "bearer", params: { realm: "a,b", scope: "repository:x:pull,push" } }],
  ],
  ['Bearer realm="first", realm="second"', [{ scheme: "bearer", params: { realm: "first" } }]],
  ['Bearer realm="unterminated', [{ scheme: "bearer", params: { realm: "unterminated" } }]],
  ["Bearer", [{ scheme: "bearer", params: {} }]],
  ["", []],
  [" , ,", []],
];

describe("parseChallenges", () => {
  it.each(parseCases)("parses %s", (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });

  it("joins several header values", () => {
    const challenges = parseChallenges(['Basic realm="a"', 'Bearer realm="b"']);
    expect(challenges.map((challenge) => challenge.scheme)).toEqual(["basic", "bearer"]);
  });

  it("returns none for a missing header", () => {
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe("findBearerChallenge", () => {
  it("splits several space-separated scopes", () => {
    const header =
      'Bearer realm="https://auth.example/token",service="reg",' +
      'scope="repository:a:pull  repository:b:pull,push registry:catalog:*",' +
      'error="insufficient_scope"';
    expect(findBearerChallenge(parseChallenges(header))).toEqual({
      realm: "https://auth.example/token",
      service: "reg",
      scopes: ["repository:a:pull", "repository:b:pull,push", "registry:catalog:*"],
      error: "insufficient_scope",
    });
  });

  it("skips a bearer challenge without realm", () => {
    const challenges = parseChallenges('Bearer service="x", Bearer realm="r"');
    expect(findBearerChallenge(challenges)).toEqual({ realm: "r", scopes: [] });
  });

  it("finds the basic challenge", () => {
    const challenges = parseChallenges('Bearer realm="r", Basic realm="b"');
    expect(findBasicChallenge(challenges)?.params.realm).toBe("b");
    expect(findBearerChallenge(parseChallenges('Basic realm="b"'))).toBeUndefined();
  });
});
