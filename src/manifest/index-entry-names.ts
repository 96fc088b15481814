import type { IndexEntry, Platform } from "./manifest-types.js";
import { isIndexType } from "./media-types.js";

/**
 * Folder names for the entries of an index, unique within it:
 * `linux-amd64`, `linux-arm64-v8`, `windows-amd64-10.0.17763.1234`. A
 * buildx attestation is named after the entry it describes
 * (`attestation-linux-amd64`), or after 12 hex digits of that entry's digest
 * when the entry is not in the index. Other entries without a usable
 * platform are named by kind and digest (`manifest-1a2b3c4d5e6f`). Names use
 * only lowercase letters, digits, `.`, `_` and `-`, which Windows and macOS
 * accept, and never start with a dot.
 */

const referenceTypeAnnotation = "vnd.docker.reference.type";
const referenceDigestAnnotation = "vnd.docker.reference.digest";
const attestationType = "attestation-manifest";
const maxPartLength = 64;

/** Returns one name per entry, in the order of `entries`. */
export function indexEntryFolderNames(entries: readonly IndexEntry[]): string[] {
  const names = entries.map((entry) => baseName(entry, entries));
  const withDigests = suffixCollisions(names, (index) => shortHex(entries[index]!.digest));
  return numberRepeats(withDigests);
}

/** Tests whether an entry's platform names a real os and architecture, not `unknown/unknown`. */
export function hasUsablePlatform(entry: IndexEntry): entry is IndexEntry & { platform: Platform } {
  const platform = entry.platform;
  if (!platform || !platform.os || !platform.architecture) return false;
  return platform.os !== "unknown" && platform.architecture !== "unknown";
}

/** Tests for a buildx attestation manifest, which describes another entry of the index. */
export function isAttestation(entry: IndexEntry): boolean {
  return entry.annotations?.[referenceTypeAnnotation] === attestationType;
}

function baseName(entry: IndexEntry, entries: readonly IndexEntry[]): string {
  if (isAttestation(entry)) return attestationName(entry, entries);
  if (hasUsablePlatform(entry)) return platformName(entry.platform);

  const kind = isIndexType(entry.mediaType)
    ? "index"
    : entry.artifactType
      ? "artifact"
      : "manifest";
  return `${kind}-${shortHex(entry.digest)}`;
}

function attestationName(entry: IndexEntry, entries: readonly IndexEntry[]): string {
  const subject = entry.annotations?.[referenceDigestAnnotation];
  const described = entries.find((other) => other.digest === subject && !isAttestation(other));
  if (described && hasUsablePlatform(described))
    return `attestation-${platformName(described.platform)}`;
  return `attestation-${shortHex(subject ?? entry.digest)}`;
}

function platformName(platform: Platform): string {
  const parts = [platform.os, platform.architecture, platform.variant, platform.osVersion];
  return parts
    .filter((part): part is string => part !== undefined && part !== "")
    .map(safePart)
    .join("-");
}

/** Lowercases, and replaces each character outside `[a-z0-9._-]` and a leading dot with `_`. */
function safePart(part: string): string {
  const safe = part
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, "_")
    .slice(0, maxPartLength);
  return safe.replace(/^\./, "_").replace(/\.+$/, "");
}

/** Returns the first 12 hex digits of a digest, or of its safe text when it is malformed. */
function shortHex(digest: string): string {
  const hex = digest.slice(digest.indexOf(":") + 1);
  return safePart(hex).slice(0, 12) || "unknown";
}

/**
 * Appends a suffix to every name that occurs more than once, not only to the
 * later ones, so no entry keeps a name that another could equally claim.
 * Names are lowercase, so names differing only in case cannot occur.
 */
function suffixCollisions(names: string[], suffix: (index: number) => string): string[] {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return names.map((name, index) => (counts.get(name)! > 1 ? `${name}-${suffix(index)}` : name));
}

/** Appends the entry's position to a name still taken, as when an index lists one digest twice. */
function numberRepeats(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((name, index) => {
    let candidate = name;
    for (let attempt = index + 1; used.has(candidate); attempt++) candidate = `${name}-${attempt}`;
    used.add(candidate);
    return candidate;
  });
}
