import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLogSink } from "../../src/log.js";
import { createBasicAuthenticator, parseBasicAuthorization } from "../../src/webdav/basic-auth.js";
import {
  buildSampleTree,
  propfind,
  runCurl,
  startShare,
  type RunningShare,
} from "./share-fixture.js";

const USERNAME = "reader";
const PASSWORD = "p+a/ss:wo:rd";

let share: RunningShare;
const logLines: string[] = [];

beforeAll(async () => {
  setLogSink((line) => logLines.push(line));
  share = await startShare({
    tree: buildSampleTree(),
    auth: { username: USERNAME, password: PASSWORD },
  });
});

afterAll(() => share.close());

function basic(username: string, password: string): string {
  return "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64");
}

describe("parseBasicAuthorization", () => {
  const cases: Array<[string, { username: string; password: string } | undefined]> = [
    [basic("u", "p+a/ss:wo:rd"), { username: "u", password: "p+a/ss:wo:rd" }],
    [basic("ü", "pässwörd€"), { username: "ü", password: "pässwörd€" }],
    [basic("u", ""), { username: "u", password: "" }],
    [basic("", "p"), { username: "", password: "p" }],
    ["basic   " + Buffer.from("u:p").toString("base64"), { username: "u", password: "p" }],
    ["Bearer abc", undefined],
    ["Basic", undefined],
    ["Basic !!!", undefined],
    ["Basic " + Buffer.from("no colon").toString("base64"), undefined],
  ];

  for (const [header, expected] of cases) {
    it(`parses ${JSON.stringify(header)}`, () => {
      expect(parseBasicAuthorization(header)).toEqual(expected);
    });
  }
});

describe("createBasicAuthenticator", () => {
  const check = createBasicAuthenticator({ username: USERNAME, password: PASSWORD });

  it("accepts the right credentials", () => {
    expect(check(basic(USERNAME, PASSWORD))).toBe("accepted");
  });

  it("rejects wrong ones", () => {
    expect(check(basic(USERNAME, "p+a/ss:wo:rd "))).toBe("rejected");
    expect(check(basic(USERNAME, "p a/ss:wo:rd"))).toBe("rejected");
    expect(check(basic("Reader", PASSWORD))).toBe("rejected");
    expect(check(basic(USERNAME, "p+a/ss"))).toBe("rejected");
    expect(check(basic(USERNAME, "wo:rd"))).toBe("rejected");
    expect(check("Basic garbage")).toBe("rejected");
  });

  it("reports a missing header", () => {
    expect(check(undefined)).toBe("missing");
  });
});

describe("share with Basic auth", () => {
  it("accepts a password with + / and colons", async () => {
    const response = await fetch(`${share.origin}/typed.json`, {
      headers: { Authorization: basic(USERNAME, PASSWORD) },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"a":1}\n');
  });

  it("accepts it over PROPFIND with curl", async () => {
    const result = await runCurl([
      "--include",
      "--user",
      `${USERNAME}:${PASSWORD}`,
      "--request",
      "PROPFIND",
      "--header",
      "Depth: 1",
      `${share.origin}/tricky/`,
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toMatch(/^HTTP\/1\.1 207/);
  });

  it("rejects a wrong password with 401 and a challenge", async () => {
    const response = await fetch(`${share.origin}/typed.json`, {
      headers: { Authorization: basic(USERNAME, "p+a/ss:wo:rX") },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Basic realm="regdav", charset="UTF-8"');
    expect(await response.text()).toContain("invalid username or password");
  });

  it("asks for credentials when none are sent", async () => {
    for (const method of ["GET", "OPTIONS", "PROPFIND", "PUT"]) {
      const response = await fetch(`${share.origin}/`, { method });
      expect(response.status, method).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        'Basic realm="regdav", charset="UTF-8"',
      );
      await response.arrayBuffer();
    }
  });

  it("guards run before authentication", async () => {
    const response = await propfind(`${share.origin}/`, "infinity");
    expect(response.status).toBe(403);
    await response.text();
  });

  it("never logs the password", async () => {
    await fetch(`${share.origin}/typed.json`, {
      headers: { Authorization: basic(USERNAME, "wrong-secret") },
    });
    await fetch(`${share.origin}/typed.json`, {
      headers: { Authorization: basic(USERNAME, PASSWORD) },
    });
    const text = logLines.join("\n");
    expect(text).toContain("rejected share credentials");
    expect(text).not.toContain("wrong-secret");
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64"));
  });
});
