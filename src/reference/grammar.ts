/**
 * The name grammar of image references, as defined by the distribution
 * project's `reference` package (github.com/distribution/reference). Each
 * check is a whole-string match, and names longer than the grammar allows are
 * rejected before any regular expression runs.
 */

/** Maximum length of `registry/repository`, as in the distribution grammar. */
export const maxNameLength = 255;

const alphanumeric = "[a-z0-9]+";

// The grammar writes the separator as `(?:[._]|__|[-]*)`. A separator of
// zero dashes only joins two runs of alphanumerics, so `-+` matches the same
// names without the nested quantifier that backtracks exponentially.
const separator = "(?:[._]|__|-+)";

const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const repositoryPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);

const domainComponent = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const ipv6Address = "\\[[a-fA-F0-9:]+\\]";
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6Address})`;
const domainPattern = new RegExp(`^${host}(?::[0-9]+)?$`);

const tagPattern = /^[\w][\w.-]{0,127}$/;

/** A 64-character hex string, which docker rejects as a name because it reads as an image ID. */
const imageIdPattern = /^[a-f0-9]{64}$/;

/** Tests a registry host with an optional port, such as `127.0.0.1:5000` or `[::1]:5000`. */
export function isValidDomain(text: string): boolean {
  return text.length <= maxNameLength && domainPattern.test(text);
}

/** Tests a repository path such as `library/debian`: lowercase components joined by `/`. */
export function isValidRepository(text: string): boolean {
  return text.length <= maxNameLength && repositoryPattern.test(text);
}

/** Tests a tag: a word character followed by at most 127 word characters, dots or dashes. */
export function isValidTag(text: string): boolean {
  return tagPattern.test(text);
}

export function isImageId(text: string): boolean {
  return imageIdPattern.test(text);
}
