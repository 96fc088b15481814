import { RegdavError } from "../errors.js";
import { hasUsablePlatform } from "./index-entry-names.js";
import type { IndexEntry, Platform } from "./manifest-types.js";

export type { Platform } from "./manifest-types.js";
export { hasUsablePlatform, indexEntryFolderNames } from "./index-entry-names.js";

/**
 * Platforms as `os/architecture[/variant]`, normalized so that `aarch64`,
 * `arm64` and `arm64/v8` all name the same platform. The rules are those of
 * `normalizeArch` in containerd/platforms (database.go), with the names
 * i686, x86, armv7l and armv6l and the arm64 variant v8.0 added. Unlike
 * containerd, the normal form of arm64 writes the variant `v8` out.
 */

const platformPattern = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;

/** Parses `linux/amd64` or `linux/arm/v7`, lowercased. Throws BAD_REQUEST naming the value. */
export function parsePlatform(text: string): Platform {
  const lower = text.trim().toLowerCase();
  if (!platformPattern.test(lower)) {
    throw new RegdavError(
      "BAD_REQUEST",
      `invalid platform ${JSON.stringify(text)}: ` +
        "expected os/architecture[/variant], such as linux/amd64",
    );
  }

  const [os, architecture, variant] = lower.split("/") as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** Formats a platform as `os/architecture[/variant]`. */
export function formatPlatform(platform: Platform): string {
  const parts = [platform.os, platform.architecture];
  if (platform.variant) parts.push(platform.variant);
  return parts.join("/");
}

/** Returns the normal form of os, architecture and variant; other fields are kept. */
export function normalizePlatform(platform: Platform): Platform {
  const os = normalizeOs(platform.os);
  const [architecture, variant] = normalizeArchitecture(
    platform.architecture.toLowerCase(),
    (platform.variant ?? "").toLowerCase(),
  );

  const normalized: Platform = { ...platform, os, architecture };
  if (variant) normalized.variant = variant;
  else delete normalized.variant;
  return normalized;
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === "macos" ? "darwin" : lower;
}

function normalizeArchitecture(architecture: string, variant: string): [string, string] {
  switch (architecture) {
    case "i386":
    case "i686":
    case "x86":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", variant === "v1" ? "" : variant];
    case "aarch64":
    case "arm64":
      return ["arm64", ["", "8", "v8", "v8.0"].includes(variant) ? "v8" : variant];
    case "armhf":
    case "armv7l":
      return ["arm", "v7"];
    case "armel":
    case "armv6l":
      return ["arm", "v6"];
    case "arm":
      return ["arm", armVariant(variant)];
    default:
      return [architecture, variant];
  }
}

function armVariant(variant: string): string {
  if (variant === "") return "v7";
  return /^[5-8]$/.test(variant) ? `v${variant}` : variant;
}

/**
 * Chooses the index entry for the `requested` platform, in index order:
 * first an entry whose os, architecture and variant equal it as written,
 * then one that matches after normalization. Returns undefined when no entry
 * matches.
 *
 * NOTE: compatible older variants are not chosen, so `linux/arm/v7` does not
 * fall back to an `arm/v6` image, although a v7 CPU can run it.
 */
export function selectPlatformEntry(
  entries: readonly IndexEntry[],
  requested: Platform,
): IndexEntry | undefined {
  const candidates = entries.filter(hasUsablePlatform);
  const exact = candidates.find((entry) => samePlatform(entry.platform, requested));
  if (exact) return exact;

  const normalizedRequest = normalizePlatform(requested);
  return candidates.find((entry) =>
    samePlatform(normalizePlatform(entry.platform), normalizedRequest),
  );
}

function samePlatform(a: Platform, b: Platform): boolean {
  return (
    a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "")
  );
}

/**
 * Returns the Linux platform of the machine regdav runs on, the default
 * choice for an index, as docker picks for `docker pull`.
 */
export function hostPlatform(): Platform {
  const architectureByNodeArch: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loong64",
  };
  const architecture = architectureByNodeArch[process.arch] ?? process.arch;
  return normalizePlatform({ os: "linux", architecture });
}
