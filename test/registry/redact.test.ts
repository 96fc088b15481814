import { describe, expect, it } from "vitest";

import { redactCredentials } from "../../src/registry/redact.js";

describe("redactCredentials", () => {
  const cases: Array<[name: string, text: string, expected: string]> = [
    [
      "Basic header is removed",
      "request had Authorization: Basic dXNlcjpwYSszL3c9",
      "request had Authorization: Basic [redacted]",
    ],
    [
      "Bearer header is removed",
      "authorization: bearer abc.DEF-ghi_123~",
      "authorization: bearer [redacted]",
    ],
    [
      "JSON web token is removed",
      "token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl expired",
      "token [redacted] expired",
    ],
    [
      "JSON token field is emptied",
      '{"token":"abc\\"def","expires_in":60}',
      '{"token":"[redacted]","expires_in":60}',
    ],
    ["JSON password field is emptied", '{"Password" : "hunter2"}', '{"Password" : "[redacted]"}'],
    [
      "query token is removed",
      "GET /token?scope=x&access_token=abc123&n=1",
      "GET /token?scope=x&access_token=[redacted]&n=1",
    ],
    [
      "plain message is kept",
      "MANIFEST_UNKNOWN manifest unknown",
      "MANIFEST_UNKNOWN manifest unknown",
    ],
  ];

  for (const [name, text, expected] of cases) {
    it(name, () => {
      expect(redactCredentials(text)).toBe(expected);
    });
  }
});
