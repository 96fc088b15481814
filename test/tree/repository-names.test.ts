import { describe, expect, it } from "vitest";

import {
  isFileManagerProbe,
  isRegistryName,
  isRepositoryComponent,
  repositoryFor,
} from "../../src/tree/repository-names.js";
import { parseDigestSegment } from "../../src/tree/digest-segment.js";
import { extensionFor, layerFileName, layerFolderName } from "../../src/tree/layer-names.js";

describe("isRegistryName", () => {
  it.each([
    ["docker.io", true],
    ["127.0.0.1:5000", true],
    ["localhost", true],
    ["localhost:5000", true],
    ["registry.example.com:443", true],
    ["[::1]:5000", true],
    ["library", false],
    [".DS_Store", false],
    ["desktop.ini", true],
    ["._foo", false],
    ["Thumbs.db", true],
    ["a b.com", false],
    ["", false],
  ])("%s -> %s", (name, expected) => {
    expect(isRegistryName(name)).toBe(expected);
  });
});

describe("isRepositoryComponent", () => {
  it.each([
    ["debian", true],
    ["my-app", true],
    ["a__b", true],
    ["a.b_c", true],
    ["a---b", true],
    ["Debian", false],
    ["_tags", false],
    ["-a", false],
    ["a-", false],
    [".DS_Store", false],
    ["a..b", false],
  ])("%s -> %s", (name, expected) => {
    expect(isRepositoryComponent(name)).toBe(expected);
  });
});

describe("isFileManagerProbe", () => {
  it.each([
    [".DS_Store", true],
    ["._etc", true],
    ["desktop.ini", true],
    ["Thumbs.db", true],
    ["Backups.backupdb", true],
    ["docker.io", false],
    ["etc", false],
  ])("%s -> %s", (name, expected) => {
    expect(isFileManagerProbe(name)).toBe(expected);
  });
});

describe("repositoryFor", () => {
  it("adds library/ to one-part Docker Hub names", () => {
    expect(repositoryFor("docker.io", ["alpine"])).toBe("library/alpine");
  });

  it("keeps two-part Docker Hub names", () => {
    expect(repositoryFor("docker.io", ["bitnami", "redis"])).toBe("bitnami/redis");
  });

  it("keeps one-part names on other registries", () => {
    expect(repositoryFor("127.0.0.1:5000", ["alpine"])).toBe("alpine");
  });
});

describe("parseDigestSegment", () => {
  const hex = "a".repeat(64);

  it("reads sha256:<hex>", () => {
    expect(parseDigestSegment(`sha256:${hex}`)).toBe(`sha256:${hex}`);
  });

  it.each([`sha256:${hex.slice(1)}`, `sha256:${hex.toUpperCase()}`, `md5:${hex}`, hex, `sha256:${hex}:x`])(
    "rejects %s",
    (segment) => {
      expect(parseDigestSegment(segment)).toBeUndefined();
    },
  );
});

describe("layer names", () => {
  const layer = {
    digest: "sha256:82133946481a8b6c8cc8d7e5bd4d2dbe0b9ab7f57e0e3e53b7a6e87ae1a3ad11",
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  };

  it("names the folder by position and 12 hex digits", () => {
    expect(layerFolderName(1, layer)).toBe("1-82133946481a");
  });

  it("adds the media type's extension to the blob", () => {
    expect(layerFileName(3, layer)).toBe("3-82133946481a.tar.gz");
  });

  it.each([
    ["application/vnd.docker.image.rootfs.diff.tar.gzip", ".tar.gz"],
    ["application/vnd.oci.image.layer.v1.tar+zstd", ".tar.zst"],
    ["application/vnd.oci.image.layer.v1.tar", ".tar"],
    ["application/vnd.in-toto+json", ".json"],
    ["application/octet-stream", ".bin"],
    [undefined, ".bin"],
  ])("%s -> %s", (mediaType, extension) => {
    expect(extensionFor(mediaType)).toBe(extension);
  });
});
