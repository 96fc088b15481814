import { isValidDomain, isValidRepository } from "../reference/grammar.js";

/**
 * Rules for the names of registries and repositories as they appear as
 * folder names. Checking them before any request keeps junk lookups that
 * file managers make (`.DS_Store`, `desktop.ini`, `._name`) from ever
 * reaching a registry.
 */

/** Tests one path component of a repository name, by the distribution grammar. */
export function isRepositoryComponent(name: string): boolean {
  return !name.includes("/") && isValidRepository(name);
}

/**
 * Tells whether a root folder name can be a registry: a host that has a dot or a
 * port, or is `localhost`, as docker decides whether a name's first part is
 * a registry.
 */
export function isRegistryName(name: string): boolean {
  if (!isValidDomain(name)) return false;
  return name.includes(".") || name.includes(":") || name === "localhost";
}

/**
 * Returns the repository a folder path names. On Docker Hub a one-part name means
 * an official image, so `docker.io/alpine` is `library/alpine`, as `docker pull` reads it.
 */
export function repositoryFor(registry: string, components: readonly string[]): string {
  if (registry === "docker.io" && components.length === 1) return `library/${components[0]}`;
  return components.join("/");
}

/** Names that file managers look up in every folder they open; none can be an image's folder. */
const FILE_MANAGER_PROBES = new Set([
  ".ds_store",
  "desktop.ini",
  "thumbs.db",
  "backups.backupdb",
  "autorun.inf",
  "folder.jpg",
  "folder.gif",
  ".hidden",
  ".directory",
  ".localized",
  ".spotlight-v100",
  ".trashes",
  ".metadata_never_index",
  // Browsers request these at the root of a site. At the root each would
  // otherwise be taken for a registry host name and looked up.
  "favicon.ico",
  "apple-touch-icon.png",
  "apple-touch-icon-precomposed.png",
  "robots.txt",
]);

/**
 * Whether a name is one of the files that Finder, Explorer, desktop file
 * managers and browsers probe for (`._name` resource forks included). Each
 * gets a 404 at once, so the probe never reaches a registry.
 */
export function isFileManagerProbe(name: string): boolean {
  return name.startsWith("._") || FILE_MANAGER_PROBES.has(name.toLowerCase());
}
