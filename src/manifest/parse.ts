import { RegdavError } from "../errors.js";
import type { FetchedManifest } from "../source/image-source.js";
import {
  expectArray,
  expectObject,
  ManifestShapeError,
  optionalString,
  readAnnotations,
  readDescriptor,
  readDescriptorList,
  readIndexEntry,
  type JsonObject,
} from "./fields.js";
import type {
  ArtifactManifest,
  Descriptor,
  ImageManifest,
  IndexManifest,
  ParsedManifest,
} from "./manifest-types.js";
import { isImageConfigType, isImageManifestType, isIndexType, MediaType } from "./media-types.js";
import { parseSchema1 } from "./schema1.js";

export type * from "./manifest-types.js";

/**
 * Parses a fetched manifest into one of the four kinds. The kind comes from
 * the body's shape, not from the Content-Type. A `schemaVersion` of 1 means
 * schema 1, and a body with `manifests` is an index. A body with `config` is
 * an image manifest, unless it has an `artifactType` or a config that is not
 * an image config, which makes it an artifact. A `mediaType` in the body must
 * agree with the shape. Throws RegdavError INVALID_MANIFEST naming the digest
 * and the offending field.
 */
export function parseManifest(fetched: FetchedManifest, repository?: string): ParsedManifest {
  try {
    return parseShape(parseJson(fetched.bytes), fetched.digest);
  } catch (error) {
    if (!(error instanceof ManifestShapeError)) throw error;
    const where = repository ? ` of ${repository}` : "";
    throw new RegdavError(
      "INVALID_MANIFEST",
      `invalid manifest ${fetched.digest}${where}: ${error.message}`,
    );
  }
}

function parseJson(bytes: Buffer): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new ManifestShapeError("", `is not valid JSON (${(error as Error).message})`);
  }
  return expectObject(json, "the document");
}

function parseShape(json: JsonObject, digest: string): ParsedManifest {
  const declared = optionalString(json, "mediaType", "");
  if (json.schemaVersion === 1) return parseSchema1(json, digest);
  if (json.schemaVersion === undefined) throw new ManifestShapeError("schemaVersion", "is missing");
  if (json.schemaVersion !== 2) {
    throw new ManifestShapeError(
      "schemaVersion",
      `is ${JSON.stringify(json.schemaVersion)}, expected 1 or 2`,
    );
  }

  if (json.manifests !== undefined) {
    if (declared !== undefined && !isIndexType(declared))
      throw shapeDisagrees(declared, "an index");
    return parseIndex(json, digest, declared);
  }
  if (json.config !== undefined) {
    if (declared !== undefined && !isImageManifestType(declared))
      throw shapeDisagrees(declared, "a manifest");
    return parseImageOrArtifact(json, digest, declared);
  }
  throw new ManifestShapeError("", "has neither manifests (an index) nor config (a manifest)");
}

function parseIndex(json: JsonObject, digest: string, declared: string | undefined): IndexManifest {
  const manifests = expectArray(json.manifests, "manifests").map((item, index) =>
    readIndexEntry(item, `manifests[${index}]`),
  );
  const index: IndexManifest = {
    kind: "index",
    digest,
    mediaType: declared ?? MediaType.ociIndex,
    annotations: readAnnotations(json.annotations, "annotations"),
    manifests,
  };
  addArtifactFields(index, json);
  return index;
}

function parseImageOrArtifact(
  json: JsonObject,
  digest: string,
  declared: string | undefined,
): ImageManifest | ArtifactManifest {
  const config = readDescriptor(json.config, "config");
  const common = {
    digest,
    mediaType: declared ?? MediaType.ociManifest,
    annotations: readAnnotations(json.annotations, "annotations"),
    config,
    layers: readDescriptorList(json.layers, "layers"),
  };

  const artifactType = optionalString(json, "artifactType", "");
  if (artifactType !== undefined || !isImageConfigType(config.mediaType)) {
    const artifact: ArtifactManifest = { kind: "artifact", ...common };
    addArtifactFields(artifact, json);
    return artifact;
  }

  const format = declared === MediaType.dockerManifest ? "docker" : "oci";
  const image: ImageManifest = { kind: "image", format, ...common };
  const subject = readSubject(json);
  if (subject) image.subject = subject;
  return image;
}

function addArtifactFields(
  target: { artifactType?: string; subject?: Descriptor },
  json: JsonObject,
) {
  const artifactType = optionalString(json, "artifactType", "");
  if (artifactType !== undefined) target.artifactType = artifactType;
  const subject = readSubject(json);
  if (subject) target.subject = subject;
}

function readSubject(json: JsonObject): Descriptor | undefined {
  return json.subject === undefined ? undefined : readDescriptor(json.subject, "subject");
}

function shapeDisagrees(declared: string, shape: string): ManifestShapeError {
  return new ManifestShapeError(
    "mediaType",
    `is ${declared}, but the document has the fields of ${shape}`,
  );
}
