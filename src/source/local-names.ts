import { RegdavError } from "../errors.js";
import { isValidRepository, isValidTag, maxNameLength } from "../reference/grammar.js";
import { dockerHubRegistry, parseReference, type ImageReference } from "../reference/reference.js";

/**
 * Rules that turn the image names stored in layouts and archives into the
 * repositories and tags of a local source.
 *
 * - A bare tag (`v1`, `latest`: no `/`, `:` or `@`) belongs to the source's
 *   default repository, which is the source name in lowercase, so the tag
 *   `v1` of `--source work=...` is `work/work/_tags/v1`.
 * - Anything else is read as an image reference with docker's rules. A
 *   Docker Hub name loses its registry as docker prints it: `alpine:3`,
 *   `docker.io/alpine:3` and `docker.io/library/alpine:3` are all the tag `3`
 *   of `library/alpine`.
 * - Any other registry stays as the first folder: `ghcr.io/org/tool:v1` is
 *   the tag `v1` of `ghcr.io/org/tool`. A port's `:` cannot be in a folder
 *   name, so it becomes `_`: `localhost:5000/app` is `localhost_5000/app`.
 */

/** The repository and tag of an image name. A name with only a digest has no tag. */
export interface ImageName {
  repository: string;
  tag?: string;
}

const sourceNamePattern = /^[A-Za-z0-9]+(?:(?:_|__|-+)[A-Za-z0-9]+)*$/;

/**
 * Checks the NAME of `--source NAME=PATH`, which becomes a root folder. It
 * must not read as a registry host, because the root also serves registries
 * by their host names, so it may not contain `.` or `:` nor be `localhost`.
 */
export function validateSourceName(name: string): string {
  const problem = sourceNameProblem(name);
  if (problem === undefined) return name;
  throw new RegdavError("BAD_REQUEST", `invalid source name ${JSON.stringify(name)}: ${problem}`);
}

function sourceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > maxNameLength) return `it is longer than ${maxNameLength} characters`;
  if (name.toLowerCase() === "localhost") return "localhost is a registry host name";
  if (/[.:]/.test(name)) {
    return "a name with `.` or `:` reads as a registry host, so use letters, digits, `-` and `_`";
  }
  if (!sourceNamePattern.test(name)) {
    return "use letters and digits, joined by `-` or `_`, starting and ending with a letter or digit";
  }
  return undefined;
}

/** Returns the repository that bare tags and untagged images of a source belong to. */
export function defaultRepositoryFor(sourceName: string): string {
  return sourceName.toLowerCase();
}

/**
 * Reads an `org.opencontainers.image.ref.name` value: a bare tag or an image
 * reference. Throws BAD_REQUEST naming the value when it is neither.
 */
export function parseRefName(value: string, defaultRepository: string): ImageName {
  if (!/[/:@]/.test(value)) {
    if (isValidTag(value)) return { repository: defaultRepository, tag: value };
    throw invalidImageName(value, "it is not a valid tag");
  }
  return parseImageReference(value);
}

/** Reads a full image reference such as a docker RepoTags entry. Throws BAD_REQUEST naming it. */
export function parseImageReference(value: string): ImageName {
  const reference = parseReference(value);
  const repository = repositoryOf(reference, value);
  return reference.tag === undefined ? { repository } : { repository, tag: reference.tag };
}

function repositoryOf(reference: ImageReference, value: string): string {
  if (reference.registry === dockerHubRegistry) return reference.repository;

  const registryFolder = reference.registry.toLowerCase().replace(/:(?=[0-9]+$)/, "_");
  const repository = `${registryFolder}/${reference.repository}`;
  if (!isValidRepository(repository)) {
    throw invalidImageName(
      value,
      `registry ${reference.registry} cannot be shown as a folder name`,
    );
  }
  return repository;
}

function invalidImageName(value: string, reason: string): RegdavError {
  return new RegdavError("BAD_REQUEST", `invalid image name ${JSON.stringify(value)}: ${reason}`);
}
