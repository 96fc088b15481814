import { describe, expect, it } from "vitest";

import { signedSchema1Payload } from "../../src/manifest/schema1.js";
import { signSchema1 } from "../registry/schema1-signing.js";

const payload = Buffer.from(
  JSON.stringify(
    {
      schemaVersion: 1,
      name: "team/app",
      tag: "old",
      architecture: "amd64",
      fsLayers: [{ blobSum: `sha256:${"a".repeat(64)}` }],
      history: [{ v1Compatibility: '{"id":"1"}' }],
    },
    null,
    3,
  ),
);

function withProtected(header: unknown): Buffer {
  const encoded = Buffer.from(JSON.stringify(header)).toString("base64url");
  return Buffer.from(JSON.stringify({ schemaVersion: 1, signatures: [{ protected: encoded }] }));
}

describe("signedSchema1Payload", () => {
  it("recovers the payload without signatures", () => {
    const signed = signSchema1(payload);
    expect(signed.equals(payload)).toBe(false);
    expect(signedSchema1Payload(signed)?.equals(payload)).toBe(true);
  });

  it("returns undefined for unsigned and other manifests", () => {
    expect(signedSchema1Payload(payload)).toBeUndefined();
    expect(
      signedSchema1Payload(Buffer.from('{"schemaVersion":2,"signatures":[]}')),
    ).toBeUndefined();
    expect(signedSchema1Payload(Buffer.from("not json"))).toBeUndefined();
  });

  it.each([
    ["missing formatTail", { formatLength: 3 }],
    ["negative formatLength", { formatLength: -1, formatTail: "fQ" }],
    ["formatLength past the end", { formatLength: 100000, formatTail: "fQ" }],
    ["fractional formatLength", { formatLength: 1.5, formatTail: "fQ" }],
  ])("rejects %s", (_name, header) => {
    expect(signedSchema1Payload(withProtected(header))).toBeUndefined();
  });

  it("rejects signatures that disagree", () => {
    const first = Buffer.from(JSON.stringify({ formatLength: 5, formatTail: "fQ" })).toString(
      "base64url",
    );
    const second = Buffer.from(JSON.stringify({ formatLength: 6, formatTail: "fQ" })).toString(
      "base64url",
    );
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 1,
        signatures: [{ protected: first }, { protected: second }],
      }),
    );
    expect(signedSchema1Payload(bytes)).toBeUndefined();
  });
});
