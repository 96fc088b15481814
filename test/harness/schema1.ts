import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from "node:crypto";

import { defaultMtime, type LayerBlob } from "./image-builder.js";

/*
 * Docker image manifest v2, schema 1, signed the way Docker's libtrust signs
 * it. The signed form is a JSON Web Signature in "pretty" form: the manifest
 * JSON itself with a `signatures` member added before its closing brace.
 * Each signature's protected header records `formatLength` (how many bytes of
 * the document precede the added member) and `formatTail` (the bytes that
 * followed there), so a verifier can cut the document back to the exact
 * payload that was signed.
 */

export interface Schema1Layer {
  /** The layer blob as pushed: blobSum is its digest. */
  layer: LayerBlob;
  /** Marks a layer that changes no files, as Docker did for CMD or ENV steps. */
  throwaway: boolean;
  /** The Dockerfile-like step recorded in the layer's history. */
  createdBy: string;
}

export interface Schema1ManifestOptions {
  /** The repository name recorded in the manifest. Distribution 2.8 does not check it on push. */
  name: string;
  tag: string;
  /** Bottom layer first, as in schema2. The manifest lists them newest first. */
  layers: readonly Schema1Layer[];
  /** Default "amd64". */
  architecture?: string;
  /** The container configuration of the top layer: Env, Cmd and so on. */
  config?: Record<string, unknown>;
}

/**
 * Builds the unsigned manifest JSON, indented with three spaces as Docker
 * wrote it. Each history entry's v1Compatibility carries a 64-hex `id` and
 * the `parent` id of the layer below, because skopeo 1.9 rejects an image
 * whose chain is broken ("Invalid parent ID").
 */
export function makeSchema1Payload(options: Schema1ManifestOptions): Buffer {
  const architecture = options.architecture ?? "amd64";
  const created = defaultMtime.toISOString();
  const v1Entries: Record<string, unknown>[] = [];
  let parent: string | undefined;

  options.layers.forEach((entry, index) => {
    const id = createHash("sha256")
      .update(`${parent ?? ""} ${entry.layer.digest} ${index}`)
      .digest("hex");
    const v1: Record<string, unknown> = { id };
    if (parent !== undefined) v1.parent = parent;
    v1.created = created;
    v1.container_config = { Cmd: ["/bin/sh", "-c", entry.createdBy] };
    if (entry.throwaway) v1.throwaway = true;
    v1Entries.push(v1);
    parent = id;
  });

  const top = v1Entries[v1Entries.length - 1];
  if (top === undefined) throw new Error("a schema1 manifest needs at least one layer");
  Object.assign(top, { architecture, os: "linux", config: options.config ?? { Cmd: ["/bin/sh"] } });

  const newestFirst = [...options.layers].reverse();
  const manifest = {
    schemaVersion: 1,
    name: options.name,
    tag: options.tag,
    architecture,
    fsLayers: newestFirst.map((entry) => ({ blobSum: entry.layer.digest })),
    history: [...v1Entries].reverse().map((v1) => ({ v1Compatibility: JSON.stringify(v1) })),
  };
  return Buffer.from(JSON.stringify(manifest, null, 3));
}

/**
 * Signs a schema1 payload with an ECDSA P-256 key (ES256) and returns the
 * signed manifest in libtrust's pretty form. A new key is generated unless
 * one is given.
 */
export function signSchema1(payload: Buffer, privateKey?: KeyObject): Buffer {
  const key = privateKey ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const formatLength = findFormatLength(payload);
  const formatTail = payload.subarray(formatLength);

  const protectedHeader = base64url(
    JSON.stringify({
      formatLength,
      formatTail: base64url(formatTail),
      time: defaultMtime.toISOString().replace(/\.\d+Z$/, "Z"),
    }),
  );
  const signingInput = `${protectedHeader}.${base64url(payload)}`;
  // JWS ES256 signatures are r and s as two 32-byte big-endian numbers, not DER.
  const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });

  const signatures = [
    {
      header: { jwk: publicJwk(key), alg: "ES256" },
      signature: base64url(signature),
      protected: protectedHeader,
    },
  ];
  const signaturesJson = JSON.stringify(signatures, null, 3).replace(/\n/g, "\n   ");
  const member = Buffer.from(`,\n   "signatures": ${signaturesJson}`);
  return Buffer.concat([payload.subarray(0, formatLength), member, formatTail]);
}

/**
 * Cuts a signed schema1 manifest back to the payload that was signed, using
 * the formatLength and formatTail of its signatures' protected headers. The
 * registry re-signs schema1 manifests with its own key when it serves them,
 * so a fetched manifest differs from the pushed one except in this payload.
 */
export function extractSchema1Payload(signed: Buffer): Buffer {
  const document = JSON.parse(signed.toString("utf8")) as { signatures?: { protected: string }[] };
  const formats = (document.signatures ?? []).map((signature) => {
    const header = JSON.parse(Buffer.from(signature.protected, "base64url").toString("utf8")) as {
      formatLength: number;
      formatTail: string;
    };
    return { length: header.formatLength, tail: header.formatTail };
  });

  const first = formats[0];
  if (first === undefined) throw new Error("schema1 manifest has no signatures");
  if (formats.some((format) => format.length !== first.length || format.tail !== first.tail)) {
    throw new Error("schema1 signatures disagree on formatLength or formatTail");
  }
  if (first.length > signed.length)
    throw new Error(`schema1 formatLength ${first.length} is past the end`);
  return Buffer.concat([signed.subarray(0, first.length), Buffer.from(first.tail, "base64url")]);
}

/**
 * Returns the offset just past the last value of the top-level object: the
 * payload must end with `}` (and optional whitespace), and the signatures
 * member is inserted at this offset.
 */
function findFormatLength(payload: Buffer): number {
  const text = payload.toString("latin1");
  const closeIndex = text.trimEnd().length - 1;
  if (text[closeIndex] !== "}") {
    throw new Error("schema1 payload does not end with a JSON object");
  }
  const beforeClose = text.slice(0, closeIndex).trimEnd();
  if (beforeClose.endsWith(",") || beforeClose.endsWith("{")) {
    throw new Error("schema1 payload must be a non-empty JSON object without a trailing comma");
  }
  return beforeClose.length;
}

/** Returns the public half of a P-256 key as a JWK, with libtrust's key id. */
function publicJwk(privateKey: KeyObject): Record<string, string> {
  const jwk = privateKey.export({ format: "jwk" });
  if (jwk.x === undefined || jwk.y === undefined) throw new Error("expected an EC key");
  return { crv: "P-256", kid: libtrustKeyId(privateKey), kty: "EC", x: jwk.x, y: jwk.y };
}

/**
 * Computes libtrust's key id: the SHA-256 of the DER-encoded public key
 * (SubjectPublicKeyInfo), cut to 240 bits, in base32, as 12 groups of 4
 * characters joined by colons.
 */
export function libtrustKeyId(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const der = publicKey.export({ type: "spki", format: "der" });
  const hash = createHash("sha256").update(der).digest().subarray(0, 30);
  const encoded = base32(hash);
  return encoded.match(/.{4}/g)?.join(":") ?? encoded;
}

/** Encodes with the RFC 4648 base32 alphabet, without padding (30 bytes, as here, need none). */
function base32(bytes: Buffer): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let output = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      output += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) output += alphabet[(value << (5 - bits)) & 31];
  return output;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}
