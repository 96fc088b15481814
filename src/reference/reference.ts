import { RegdavError } from "../errors.js";
import { parseDigest } from "./digest.js";
import {
  isImageId,
  isValidDomain,
  isValidRepository,
  isValidTag,
  maxNameLength,
} from "./grammar.js";

/**
 * Parsing and normalization of image references such as `debian:12`,
 * `127.0.0.1:5000/team/app@sha256:...` or `ghcr.io/org/tool:v1`, by docker's
 * rules. A name without a registry is on Docker Hub (`docker.io`), and a
 * single-component Docker Hub name gets `library/`. The tag defaults to
 * `latest` unless a digest is given.
 */
export interface ImageReference {
  /** Registry as written, normalized for Docker Hub: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, such as `library/debian`. */
  repository: string;
  /** Undefined only when the reference has a digest and no tag. */
  tag?: string;
  /** `sha256:<hex>`; when present it, not the tag, selects the manifest. */
  digest?: string;
}

export const dockerHubRegistry = "docker.io";
export const defaultTag = "latest";

const dockerHubApiHost = "registry-1.docker.io";
const legacyDockerHubNames = new Set(["index.docker.io"]);

/** Parses and normalizes a reference. Throws RegdavError BAD_REQUEST naming the value. */
export function parseReference(text: string): ImageReference {
  if (text.length === 0) throw invalidReference(text, "it is empty");
  if (isImageId(text)) {
    throw invalidReference(text, "a 64-digit hex string is an image ID, not a repository name");
  }

  const [nameAndTag, digest] = splitDigest(text);
  const [name, tag] = splitTag(nameAndTag);
  const { registry, repository } = splitRegistry(name);
  validateName(text, registry, repository);

  if (tag !== undefined && !isValidTag(tag)) {
    throw invalidReference(text, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (digest !== undefined) validateReferenceDigest(text, digest);

  const reference: ImageReference = { registry, repository };
  if (tag !== undefined || digest === undefined) reference.tag = tag ?? defaultTag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/** Formats a reference back to text, with the registry always written out. */
export function formatReference(reference: ImageReference): string {
  let text = `${reference.registry}/${reference.repository}`;
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

/** Returns what to request from `/v2/<name>/manifests/`: the digest when present, else the tag. */
export function manifestReferenceOf(reference: ImageReference): string {
  return reference.digest ?? reference.tag ?? defaultTag;
}

/** Returns the host that serves the registry API: Docker Hub's is not `docker.io` itself. */
export function apiHostOf(registry: string): string {
  return registry === dockerHubRegistry ? dockerHubApiHost : registry;
}

/** Maps the other names of Docker Hub to `docker.io`; other registries are returned unchanged. */
export function normalizeRegistry(registry: string): string {
  return legacyDockerHubNames.has(registry.toLowerCase()) ? dockerHubRegistry : registry;
}

function splitDigest(text: string): [string, string | undefined] {
  const at = text.indexOf("@");
  if (at === -1) return [text, undefined];
  return [text.slice(0, at), text.slice(at + 1)];
}

/** Splits at the last `:` after the last `/`, so a registry port is not taken for a tag. */
function splitTag(text: string): [string, string | undefined] {
  const colon = text.lastIndexOf(":");
  if (colon === -1 || colon < text.lastIndexOf("/")) return [text, undefined];
  return [text.slice(0, colon), text.slice(colon + 1)];
}

/**
 * Splits off the registry. The first component is a registry when it contains
 * `.` or `:`, is `localhost`, or has an uppercase letter, which no repository
 * component may have (the rule of github.com/distribution/reference).
 */
function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf("/");
  const first = name.slice(0, slash);
  const isRegistry =
    slash !== -1 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
  if (!isRegistry) return withLibraryPrefix(dockerHubRegistry, name);

  return withLibraryPrefix(normalizeRegistry(first), name.slice(slash + 1));
}

function withLibraryPrefix(registry: string, repository: string) {
  const needsPrefix = registry === dockerHubRegistry && !repository.includes("/");
  return { registry, repository: needsPrefix ? `library/${repository}` : repository };
}

function validateName(text: string, registry: string, repository: string): void {
  if (!isValidDomain(registry)) {
    throw invalidReference(text, `invalid registry ${JSON.stringify(registry)}`);
  }
  if (repository !== repository.toLowerCase()) {
    throw invalidReference(text, "the repository name must be lowercase");
  }
  if (!isValidRepository(repository)) {
    throw invalidReference(text, `invalid repository name ${JSON.stringify(repository)}`);
  }

  const length = registry.length + 1 + repository.length;
  if (length > maxNameLength) {
    throw invalidReference(
      text,
      `the name is ${length} characters, the maximum is ${maxNameLength}`,
    );
  }
}

function validateReferenceDigest(text: string, digest: string): void {
  try {
    parseDigest(digest);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidReference(text, reason);
  }
}

function invalidReference(text: string, reason: string): RegdavError {
  return new RegdavError(
    "BAD_REQUEST",
    `invalid image reference ${JSON.stringify(text)}: ${reason}`,
  );
}
