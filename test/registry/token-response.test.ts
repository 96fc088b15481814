import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import {
  parseTokenResponse,
  tokenErrorDetail,
  tokenLifetime,
} from "../../src/registry/token-response.js";

const received = Date.parse("2024-05-01T12:00:00Z");

function parse(json: unknown) {
  return parseTokenResponse(
    Buffer.from(JSON.stringify(json)),
    received,
    "https://auth.example/token",
  );
}

describe("parseTokenResponse", () => {
  it("reads token with expiry from issued_at", () => {
    const issued = parse({ token: "t1", expires_in: 300, issued_at: "2024-05-01T11:59:00Z" });
    expect(issued.token).toBe("t1");
    expect(issued.expiresAt).toBe(Date.parse("2024-05-01T12:04:00Z"));
    expect(issued.renewAt).toBe(Date.parse("2024-05-01T12:03:00Z"));
  });

  it("reads access_token when token is missing", () => {
    expect(parse({ access_token: "oauth" }).token).toBe("oauth");
    expect(parse({ token: "", access_token: "oauth" }).token).toBe("oauth");
  });

  it("defaults lifetime to 60 seconds", () => {
    expect(parse({ token: "t" }).expiresAt).toBe(received + 60_000);
    expect(parse({ token: "t", expires_in: 5 }).expiresAt).toBe(received + 60_000);
    expect(parse({ token: "t", expires_in: "300" }).expiresAt).toBe(received + 60_000);
  });

  it("renews a 60-second token 15 seconds early", () => {
    expect(parse({ token: "t", expires_in: 60 }).renewAt).toBe(received + 45_000);
  });

  it.each([
    ["2024-05-01T12:10:00Z", "in the future"],
    ["2024-05-01T11:00:00Z", "older than the lifetime"],
    ["not a date", "unparseable"],
  ])("ignores issued_at %s (%s)", (issuedAt) => {
    const issued = parse({ token: "t", expires_in: 300, issued_at: issuedAt });
    expect(issued.expiresAt).toBe(received + 300_000);
  });

  it.each([[{}], [{ token: 5 }], [{ token: "" }], [[]], ["text"]])("rejects %j", (json) => {
    expect(() => parse(json)).toThrow(RegdavError);
    expect(() => parse(json)).toThrow("https://auth.example/token");
  });

  it("rejects invalid JSON", () => {
    const body = Buffer.from("<html>");
    expect(() => parseTokenResponse(body, received, "srv")).toThrow(
      "token server srv returned invalid JSON",
    );
  });
});

describe("tokenLifetime", () => {
  it("caps the renewal margin at one minute", () => {
    const { expiresAt, renewAt } = tokenLifetime(3600, undefined, received);
    expect(expiresAt - renewAt).toBe(60_000);
  });
});

describe("tokenErrorDetail", () => {
  it.each([
    ['{"details":"incorrect username or password"}', "incorrect username or password"],
    [
      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
      "authentication required",
    ],
    [
      '{"error":"invalid_grant","error_description":"refresh token expired"}',
      "refresh token expired",
    ],
    ["plain\n text", "plain text"],
  ])("reads %s", (body, expected) => {
    expect(tokenErrorDetail(body)).toBe(expected);
  });
});
