import { describe, expect, it } from "vitest";

import { indexEntryFolderNames, isAttestation } from "../../src/manifest/index-entry-names.js";
import type { IndexEntry, Platform } from "../../src/manifest/manifest-types.js";
import { MediaType } from "../../src/manifest/media-types.js";

const hex = (character: string) => character.repeat(64);
const d = (character: string) => `sha256:${hex(character)}`;

function entry(
  digestCharacter: string,
  platform?: Platform,
  extra: Partial<IndexEntry> = {},
): IndexEntry {
  const base: IndexEntry = {
    mediaType: MediaType.ociManifest,
    digest: d(digestCharacter),
    size: 1,
    ...extra,
  };
  return platform ? { ...base, platform } : base;
}

function attestation(digestCharacter: string, subject: string): IndexEntry {
  return entry(
    digestCharacter,
    { os: "unknown", architecture: "unknown" },
    {
      annotations: {
        "vnd.docker.reference.digest": subject,
        "vnd.docker.reference.type": "attestation-manifest",
      },
    },
  );
}

/** Characters Windows or macOS reject in a file name, and control characters. */
const forbidden = /[<>:"/\\|?*\u0000-\u001f]/;

describe("indexEntryFolderNames", () => {
  it("names platforms", () => {
    const names = indexEntryFolderNames([
      entry("1", { os: "linux", architecture: "amd64" }),
      entry("2", { os: "linux", architecture: "arm64", variant: "v8" }),
      entry("3", { os: "linux", architecture: "arm64" }),
      entry("4", { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1234" }),
    ]);
    expect(names).toEqual([
      "linux-amd64",
      "linux-arm64-v8",
      "linux-arm64",
      "windows-amd64-10.0.17763.1234",
    ]);
  });

  it("names attestations after their subject", () => {
    const names = indexEntryFolderNames([
      entry("1", { os: "linux", architecture: "amd64" }),
      entry("2", { os: "linux", architecture: "arm64", variant: "v8" }),
      attestation("3", d("1")),
      attestation("4", d("2")),
    ]);
    expect(names).toEqual([
      "linux-amd64",
      "linux-arm64-v8",
      "attestation-linux-amd64",
      "attestation-linux-arm64-v8",
    ]);
  });

  it("names orphan attestation by digest", () => {
    const names = indexEntryFolderNames([attestation("3", d("9"))]);
    expect(names).toEqual([`attestation-${"9".repeat(12)}`]);
  });

  it("names entries without platform by kind", () => {
    const names = indexEntryFolderNames([
      entry("a"),
      entry("b", { os: "unknown", architecture: "unknown" }),
      entry("c", undefined, { mediaType: MediaType.ociIndex }),
      entry("e", undefined, { artifactType: "application/vnd.example" }),
      entry("f", { os: "", architecture: "amd64" }),
    ]);
    expect(names).toEqual([
      `manifest-${"a".repeat(12)}`,
      `manifest-${"b".repeat(12)}`,
      `index-${"c".repeat(12)}`,
      `artifact-${"e".repeat(12)}`,
      `manifest-${"f".repeat(12)}`,
    ]);
  });

  it("adds the digest to every colliding name", () => {
    const names = indexEntryFolderNames([
      entry("1", { os: "linux", architecture: "amd64" }),
      entry("2", { os: "linux", architecture: "amd64" }),
      entry("3", { os: "Linux", architecture: "AMD64" }),
      entry("4", { os: "linux", architecture: "arm64" }),
    ]);
    expect(names).toEqual([
      `linux-amd64-${"1".repeat(12)}`,
      `linux-amd64-${"2".repeat(12)}`,
      `linux-amd64-${"3".repeat(12)}`,
      "linux-arm64",
    ]);
  });

  it("numbers an entry listed twice", () => {
    const twice = entry("1", { os: "linux", architecture: "amd64" });
    const names = indexEntryFolderNames([twice, twice]);
    expect(names).toEqual([`linux-amd64-${"1".repeat(12)}`, `linux-amd64-${"1".repeat(12)}-2`]);
  });

  it("replaces unsafe characters", () => {
    const names = indexEntryFolderNames([
      entry("1", { os: "lin:ux", architecture: 'a/b\\c<d>e"f|g?h*i' }),
      entry("2", { os: ".hidden", architecture: "amd64", variant: "v1." }),
      entry("3", { os: "linux", architecture: "amd64", variant: "x\u0001y z" }),
    ]);
    expect(names).toEqual(["lin_ux-a_b_c_d_e_f_g_h_i", "_hidden-amd64-v1", "linux-amd64-x_y_z"]);
    for (const name of names) {
      expect(name).not.toMatch(forbidden);
      expect(name.startsWith(".")).toBe(false);
      expect(name.endsWith(".")).toBe(false);
    }
  });

  it("keeps large index names unique", () => {
    const platforms = ["amd64", "arm64", "arm", "386", "ppc64le", "s390x"];
    const entries = platforms.flatMap((architecture, index) => [
      entry(String(index), { os: "linux", architecture }),
      attestation(String.fromCharCode(97 + index), d(String(index))),
    ]);
    const names = indexEntryFolderNames(entries);
    expect(new Set(names).size).toBe(entries.length);
    for (const name of names) expect(name).not.toMatch(forbidden);
  });
});

describe("isAttestation", () => {
  it("reads the buildx annotation", () => {
    expect(isAttestation(attestation("1", d("2")))).toBe(true);
    expect(isAttestation(entry("1", { os: "linux", architecture: "amd64" }))).toBe(false);
  });
});
