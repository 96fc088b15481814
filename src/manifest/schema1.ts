import {
  expectArray,
  expectObject,
  ManifestShapeError,
  optionalString,
  requiredString,
  type JsonObject,
} from "./fields.js";
import type { Schema1History, Schema1Manifest, V1Compatibility } from "./manifest-types.js";
import { MediaType } from "./media-types.js";
import { isDigest } from "../reference/digest.js";

/**
 * Docker's deprecated image manifest v2 schema 1. Layers are listed newest
 * first, each with a `v1Compatibility` JSON string in `history`. A signed
 * manifest embeds libtrust JWS signatures after the payload.
 *
 * NOTE: the signatures are not verified. The manifest is trusted through its
 * digest, as registries do for every other format.
 */
export function parseSchema1(json: JsonObject, digest: string): Schema1Manifest {
  const fsLayers = expectArray(json.fsLayers, "fsLayers").map((item, index) => {
    const path = `fsLayers[${index}]`;
    const blobSum = requiredString(expectObject(item, path), "blobSum", path);
    if (!isDigest(blobSum)) {
      throw new ManifestShapeError(
        `${path}.blobSum`,
        `${JSON.stringify(blobSum)} is not a sha256 or sha512 digest`,
      );
    }
    return { blobSum };
  });

  const history = expectArray(json.history, "history").map(readHistory);
  if (history.length !== fsLayers.length) {
    throw new ManifestShapeError(
      "history",
      `has ${history.length} entries for ${fsLayers.length} fsLayers`,
    );
  }

  const signed = Array.isArray(json.signatures) && json.signatures.length > 0;
  const layers = fsLayers
    .map((layer, index) => ({
      digest: layer.blobSum,
      mediaType: MediaType.dockerLayerGzip,
      throwaway: history[index]!.v1Compatibility.throwaway === true,
    }))
    .reverse();

  return {
    kind: "schema1",
    digest,
    mediaType: signed ? MediaType.dockerSchema1Signed : MediaType.dockerSchema1,
    annotations: {},
    name: requiredString(json, "name", ""),
    tag: optionalString(json, "tag", "") ?? "",
    architecture: optionalString(json, "architecture", "") ?? "",
    signed,
    fsLayers,
    history,
    layers,
    configJson: history[0]?.v1CompatibilityJson ?? "{}",
  };
}

function readHistory(item: unknown, index: number): Schema1History {
  const path = `history[${index}]`;
  const v1CompatibilityJson = requiredString(expectObject(item, path), "v1Compatibility", path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(v1CompatibilityJson);
  } catch {
    throw new ManifestShapeError(`${path}.v1Compatibility`, "is not valid JSON");
  }
  const v1Compatibility = expectObject(parsed, `${path}.v1Compatibility`) as V1Compatibility;
  return { v1CompatibilityJson, v1Compatibility };
}

/**
 * Returns the signed payload of a signed schema 1 manifest: the bytes with
 * the signatures removed, which is what registries hash for its digest
 * (distribution's schema1 package computes it over `Canonical`). Each JWS
 * protected header contains `formatLength`, the length of the payload's prefix
 * kept in the manifest, and `formatTail`, the base64url bytes that followed
 * it before the signatures were inserted. Returns undefined when the bytes
 * are not a signed schema 1 manifest or the headers disagree.
 */
export function signedSchema1Payload(bytes: Buffer): Buffer | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }

  const signatures = (json as { schemaVersion?: unknown; signatures?: unknown } | null)?.signatures;
  if ((json as JsonObject | null)?.schemaVersion !== 1 || !Array.isArray(signatures))
    return undefined;
  if (signatures.length === 0) return undefined;

  const formats = signatures.map(formatOfSignature);
  const first = formats[0];
  if (!first || formats.some((format) => !format || !sameFormat(format, first))) return undefined;
  if (first.length > bytes.length) return undefined;
  return Buffer.concat([bytes.subarray(0, first.length), first.tail]);
}

interface PayloadFormat {
  length: number;
  tail: Buffer;
}

function formatOfSignature(signature: unknown): PayloadFormat | undefined {
  const encoded = (signature as { protected?: unknown } | null)?.protected;
  if (typeof encoded !== "string") return undefined;

  let header: { formatLength?: unknown; formatTail?: unknown };
  try {
    header = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }

  const { formatLength, formatTail } = header ?? {};
  if (typeof formatLength !== "number" || !Number.isSafeInteger(formatLength) || formatLength < 0) {
    return undefined;
  }
  if (typeof formatTail !== "string") return undefined;
  return { length: formatLength, tail: Buffer.from(formatTail, "base64url") };
}

function sameFormat(a: PayloadFormat, b: PayloadFormat): boolean {
  return a.length === b.length && a.tail.equals(b.tail);
}
