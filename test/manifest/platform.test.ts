import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import type { IndexEntry, Platform } from "../../src/manifest/manifest-types.js";
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  selectPlatformEntry,
} from "../../src/manifest/platform.js";

const d = (character: string) => `sha256:${character.repeat(64)}`;

function entry(digestCharacter: string, platform?: Platform): IndexEntry {
  const base: IndexEntry = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: d(digestCharacter),
    size: 500,
  };
  return platform ? { ...base, platform } : base;
}

describe("parsePlatform", () => {
  it.each([
    ["linux/amd64", { os: "linux", architecture: "amd64" }],
    ["linux/arm64/v8", { os: "linux", architecture: "arm64", variant: "v8" }],
    ["Linux/ARM/v7", { os: "linux", architecture: "arm", variant: "v7" }],
    [" windows/amd64 ", { os: "windows", architecture: "amd64" }],
  ])("parses %j", (text, expected) => {
    expect(parsePlatform(text)).toEqual(expected);
  });

  it.each([[""], ["linux"], ["linux/"], ["/amd64"], ["linux/arm/v7/extra"], ["linux/amd 64"]])(
    "rejects %j",
    (text) => {
      expect(() => parsePlatform(text)).toThrow(RegdavError);
      expect(() => parsePlatform(text)).toThrow(`invalid platform ${JSON.stringify(text)}`);
    },
  );

  it("formats back", () => {
    expect(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" })).toBe(
      "linux/arm/v7",
    );
    expect(formatPlatform({ os: "linux", architecture: "amd64" })).toBe("linux/amd64");
  });
});

describe("normalizePlatform", () => {
  it.each([
    ["linux/amd64", "linux/amd64"],
    ["linux/x86_64", "linux/amd64"],
    ["linux/x86-64", "linux/amd64"],
    ["linux/amd64/v1", "linux/amd64"],
    ["linux/amd64/v3", "linux/amd64/v3"],
    ["linux/arm64", "linux/arm64/v8"],
    ["linux/aarch64", "linux/arm64/v8"],
    ["linux/arm64/8", "linux/arm64/v8"],
    ["linux/arm64/v8.0", "linux/arm64/v8"],
    ["linux/arm64/v9", "linux/arm64/v9"],
    ["linux/armhf", "linux/arm/v7"],
    ["linux/armel", "linux/arm/v6"],
    ["linux/armv7l", "linux/arm/v7"],
    ["linux/arm", "linux/arm/v7"],
    ["linux/arm/6", "linux/arm/v6"],
    ["linux/i386", "linux/386"],
    ["linux/ppc64le", "linux/ppc64le"],
    ["macos/arm64", "darwin/arm64/v8"],
  ])("normalizes %s to %s", (text, expected) => {
    expect(formatPlatform(normalizePlatform(parsePlatform(text)))).toBe(expected);
  });

  it("keeps os.version", () => {
    const platform = { os: "windows", architecture: "x86_64", osVersion: "10.0.20348.1" };
    expect(normalizePlatform(platform)).toEqual({
      os: "windows",
      architecture: "amd64",
      osVersion: "10.0.20348.1",
    });
  });

  it("maps the host architecture", () => {
    const host = hostPlatform();
    expect(host.os).toBe("linux");
    expect(host.architecture).not.toBe("x64");
  });
});

describe("selectPlatformEntry", () => {
  const entries = [
    entry("0", { os: "unknown", architecture: "unknown" }),
    entry("1", { os: "linux", architecture: "amd64" }),
    entry("2", { os: "linux", architecture: "arm64", variant: "v8" }),
    entry("3", { os: "linux", architecture: "arm", variant: "v6" }),
    entry("4", { os: "linux", architecture: "arm", variant: "v7" }),
    entry("5", { os: "windows", architecture: "amd64", osVersion: "10.0.17763.1" }),
    entry("6"),
  ];

  it.each([
    ["linux/amd64", d("1")],
    ["linux/x86_64", d("1")],
    ["linux/arm64", d("2")],
    ["linux/aarch64", d("2")],
    ["linux/arm64/v8", d("2")],
    ["linux/arm", d("4")],
    ["linux/arm/v6", d("3")],
    ["linux/armhf", d("4")],
    ["windows/amd64", d("5")],
  ])("chooses %s", (wanted, digest) => {
    expect(selectPlatformEntry(entries, parsePlatform(wanted))?.digest).toBe(digest);
  });

  it.each([["linux/s390x"], ["linux/arm/v5"], ["unknown/unknown"], ["darwin/amd64"]])(
    "finds none for %s",
    (wanted) => {
      expect(selectPlatformEntry(entries, parsePlatform(wanted))).toBeUndefined();
    },
  );

  it("prefers exact variant match", () => {
    const both = [
      entry("a", { os: "linux", architecture: "arm64", variant: "v8" }),
      entry("b", { os: "linux", architecture: "arm64" }),
    ];
    expect(selectPlatformEntry(both, parsePlatform("linux/arm64"))?.digest).toBe(d("b"));
    expect(selectPlatformEntry(both, parsePlatform("linux/arm64/v8"))?.digest).toBe(d("a"));
  });

  it("takes the first of equal entries", () => {
    const twice = [
      entry("a", { os: "linux", architecture: "amd64" }),
      entry("b", { os: "linux", architecture: "amd64" }),
    ];
    expect(selectPlatformEntry(twice, parsePlatform("linux/amd64"))?.digest).toBe(d("a"));
  });
});
