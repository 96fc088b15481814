import { generateKeyPairSync, sign } from "node:crypto";

/**
 * Signs a schema 1 manifest the way libtrust's JSONSignature does, so the
 * distribution registry accepts it. The protected header records
 * `formatLength`, the length of the payload up to its last value, and
 * `formatTail`, the closing brace and whitespace after it. The signature
 * block is inserted between the two.
 */
export function signSchema1(payload: Buffer): Buffer {
  const text = payload.toString("utf8");
  const closeIndex = text.trimEnd().length - 1;
  if (text[closeIndex] !== "}") throw new Error("payload does not end with }");
  const formatLength = text.slice(0, closeIndex).trimEnd().length;
  const formatTail = payload.subarray(formatLength);

  const protectedHeader = Buffer.from(
    JSON.stringify({
      formatLength,
      formatTail: formatTail.toString("base64url"),
      time: new Date().toISOString(),
    }),
  ).toString("base64url");
  const signingInput = `${protectedHeader}.${payload.toString("base64url")}`;

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signature = sign("sha256", Buffer.from(signingInput), {
    key: privateKey,
    dsaEncoding: "ieee-p1363",
  });
  const { crv, kty, x, y } = publicKey.export({ format: "jwk" });
  const signatures = [
    {
      header: { jwk: { crv, kty, x, y }, alg: "ES256" },
      signature: signature.toString("base64url"),
      protected: protectedHeader,
    },
  ];

  const block = JSON.stringify(signatures, null, 3).replace(/\n/g, "\n   ");
  return Buffer.concat([
    payload.subarray(0, formatLength),
    Buffer.from(`,\n   "signatures": ${block}\n}`),
  ]);
}
