import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { MediaType, mediaTypeOfManifest } from "../../src/manifest/media-types.js";
import { parseManifest } from "../../src/manifest/parse.js";
import { computeDigest } from "../../src/reference/digest.js";
import type { FetchedManifest } from "../../src/source/image-source.js";

const d = (character: string) => `sha256:${character.repeat(64)}`;

function fetched(document: unknown, mediaType = "application/json"): FetchedManifest {
  const bytes = Buffer.from(
    typeof document === "string" ? document : JSON.stringify(document, null, 3),
  );
  return { digest: computeDigest(bytes), mediaType, bytes };
}

const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    {
      mediaType: MediaType.ociManifest,
      digest: d("1"),
      size: 1011,
      platform: { architecture: "amd64", os: "linux" },
    },
    {
      mediaType: MediaType.ociManifest,
      digest: d("2"),
      size: 1012,
      platform: { architecture: "arm64", os: "linux", variant: "v8" },
    },
    {
      mediaType: MediaType.ociManifest,
      digest: d("3"),
      size: 840,
      annotations: {
        "vnd.docker.reference.digest": d("1"),
        "vnd.docker.reference.type": "attestation-manifest",
      },
      platform: { architecture: "unknown", os: "unknown" },
    },
  ],
  annotations: { "org.opencontainers.image.created": "2024-05-01T00:00:00Z" },
};

const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifestList,
  manifests: [
    {
      mediaType: MediaType.dockerManifest,
      digest: d("4"),
      size: 525,
      platform: {
        architecture: "amd64",
        os: "windows",
        "os.version": "10.0.17763.1234",
        "os.features": ["win32k"],
      },
    },
    {
      mediaType: MediaType.dockerManifest,
      digest: d("5"),
      size: 525,
      platform: { architecture: "arm", os: "linux", variant: "v7", features: ["sse4"] },
    },
  ],
};

const dockerImage = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: MediaType.dockerConfig, size: 1469, digest: d("a") },
  layers: [
    { mediaType: MediaType.dockerLayerGzip, size: 2811478, digest: d("b") },
    {
      mediaType: MediaType.dockerForeignLayerGzip,
      size: 5,
      digest: d("c"),
      urls: ["https://mcr.microsoft.com/layer"],
    },
  ],
};

const ociImage = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, size: 581, digest: d("a") },
  layers: [{ mediaType: MediaType.ociLayerZstd, size: 100, digest: d("b") }],
  annotations: { "org.opencontainers.image.base.name": "debian:12" },
  subject: { mediaType: MediaType.ociManifest, size: 10, digest: d("e") },
};

const helmChart = {
  schemaVersion: 2,
  config: { mediaType: "application/vnd.cncf.helm.config.v1+json", digest: d("a"), size: 117 },
  layers: [
    {
      mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
      digest: d("b"),
      size: 3000,
    },
  ],
};

const signatureArtifact = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
  config: { mediaType: MediaType.ociEmpty, digest: d("4"), size: 2 },
  layers: [
    { mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", digest: d("5"), size: 4000 },
  ],
  subject: { mediaType: MediaType.ociManifest, digest: d("1"), size: 1011 },
};

const schema1 = {
  schemaVersion: 1,
  name: "library/hello",
  tag: "latest",
  architecture: "amd64",
  fsLayers: [{ blobSum: d("c") }, { blobSum: d("b") }, { blobSum: d("a") }],
  history: [
    { v1Compatibility: JSON.stringify({ id: "3", parent: "2", config: { Cmd: ["/hello"] } }) },
    { v1Compatibility: JSON.stringify({ id: "2", parent: "1", throwaway: true }) },
    { v1Compatibility: JSON.stringify({ id: "1", created: "2024-01-01T00:00:00Z" }) },
  ],
};

describe("parseManifest", () => {
  it("parses an OCI index with an attestation", () => {
    const parsed = parseManifest(fetched(ociIndex));
    if (parsed.kind !== "index") throw new Error(`expected an index, got ${parsed.kind}`);
    expect(parsed.mediaType).toBe(MediaType.ociIndex);
    expect(parsed.annotations).toEqual(ociIndex.annotations);
    expect(parsed.manifests).toHaveLength(3);
    expect(parsed.manifests[0]).toEqual({
      mediaType: MediaType.ociManifest,
      digest: d("1"),
      size: 1011,
      platform: { os: "linux", architecture: "amd64" },
    });
    expect(parsed.manifests[1]!.platform).toEqual({
      os: "linux",
      architecture: "arm64",
      variant: "v8",
    });
    expect(parsed.manifests[2]!.annotations!["vnd.docker.reference.type"]).toBe(
      "attestation-manifest",
    );
  });

  it("parses a Docker manifest list with os.version", () => {
    const parsed = parseManifest(fetched(dockerList));
    if (parsed.kind !== "index") throw new Error(`expected an index, got ${parsed.kind}`);
    expect(parsed.mediaType).toBe(MediaType.dockerManifestList);
    expect(parsed.manifests[0]!.platform).toEqual({
      os: "windows",
      architecture: "amd64",
      osVersion: "10.0.17763.1234",
      osFeatures: ["win32k"],
    });
    expect(parsed.manifests[1]!.platform!.features).toEqual(["sse4"]);
  });

  it("parses a Docker schema 2 image", () => {
    const file = fetched(dockerImage);
    const parsed = parseManifest(file);
    if (parsed.kind !== "image") throw new Error(`expected an image, got ${parsed.kind}`);
    expect(parsed.format).toBe("docker");
    expect(parsed.digest).toBe(file.digest);
    expect(parsed.config).toEqual({
      mediaType: MediaType.dockerConfig,
      size: 1469,
      digest: d("a"),
    });
    expect(parsed.layers.map((layer) => layer.digest)).toEqual([d("b"), d("c")]);
    expect(parsed.layers[1]!.urls).toEqual(["https://mcr.microsoft.com/layer"]);
    expect(parsed.annotations).toEqual({});
  });

  it("parses an OCI image with subject", () => {
    const parsed = parseManifest(fetched(ociImage));
    if (parsed.kind !== "image") throw new Error(`expected an image, got ${parsed.kind}`);
    expect(parsed.format).toBe("oci");
    expect(parsed.annotations).toEqual(ociImage.annotations);
    expect(parsed.subject?.digest).toBe(d("e"));
    expect(parsed.layers[0]!.mediaType).toBe(MediaType.ociLayerZstd);
  });

  it("parses an OCI image without mediaType", () => {
    const { mediaType: _unused, ...document } = ociImage;
    const parsed = parseManifest(fetched(document, MediaType.dockerManifestList));
    expect(parsed.kind).toBe("image");
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
  });

  it("parses a Helm chart as an artifact", () => {
    const parsed = parseManifest(fetched(helmChart));
    if (parsed.kind !== "artifact") throw new Error(`expected an artifact, got ${parsed.kind}`);
    expect(parsed.artifactType).toBeUndefined();
    expect(parsed.config.mediaType).toBe("application/vnd.cncf.helm.config.v1+json");
    expect(parsed.layers).toHaveLength(1);
  });

  it("parses an artifactType manifest as an artifact", () => {
    const parsed = parseManifest(fetched(signatureArtifact));
    if (parsed.kind !== "artifact") throw new Error(`expected an artifact, got ${parsed.kind}`);
    expect(parsed.artifactType).toBe("application/vnd.dev.sigstore.bundle.v0.3+json");
    expect(parsed.config.mediaType).toBe(MediaType.ociEmpty);
    expect(parsed.subject?.digest).toBe(d("1"));
  });

  it("treats artifactType image as artifact", () => {
    const parsed = parseManifest(fetched({ ...ociImage, artifactType: "application/x.example" }));
    expect(parsed.kind).toBe("artifact");
  });

  it("parses schema 1 with layers base first", () => {
    const parsed = parseManifest(fetched(schema1));
    if (parsed.kind !== "schema1") throw new Error(`expected schema1, got ${parsed.kind}`);
    expect(parsed.mediaType).toBe(MediaType.dockerSchema1);
    expect(parsed.signed).toBe(false);
    expect(parsed.name).toBe("library/hello");
    expect(parsed.tag).toBe("latest");
    expect(parsed.architecture).toBe("amd64");
    expect(parsed.fsLayers.map((layer) => layer.blobSum)).toEqual([d("c"), d("b"), d("a")]);
    expect(parsed.layers.map((layer) => layer.digest)).toEqual([d("a"), d("b"), d("c")]);
    expect(parsed.layers.map((layer) => layer.throwaway)).toEqual([false, true, false]);
    expect(parsed.layers[0]!.mediaType).toBe(MediaType.dockerLayerGzip);
    expect(parsed.history[0]!.v1Compatibility).toEqual({
      id: "3",
      parent: "2",
      config: { Cmd: ["/hello"] },
    });
    expect(parsed.history[2]!.v1Compatibility.created).toBe("2024-01-01T00:00:00Z");
    expect(parsed.configJson).toBe(schema1.history[0]!.v1Compatibility);
  });

  it("marks signed schema 1", () => {
    const document = { ...schema1, signatures: [{ header: {}, signature: "x", protected: "y" }] };
    const parsed = parseManifest(fetched(document));
    expect(parsed.kind).toBe("schema1");
    expect(parsed.mediaType).toBe(MediaType.dockerSchema1Signed);
  });

  const invalidCases: [string, unknown, string][] = [
    ["invalid JSON", "{", "is not valid JSON"],
    ["a JSON array", "[]", "the document is not a JSON object"],
    ["no schemaVersion", { config: {} }, "schemaVersion is missing"],
    ["schemaVersion 3", { ...ociImage, schemaVersion: 3 }, "schemaVersion is 3"],
    ["neither shape", { schemaVersion: 2 }, "has neither manifests"],
    ["manifests not a list", { schemaVersion: 2, manifests: {} }, "manifests is not an array"],
    ["missing layers", { ...dockerImage, layers: undefined }, "layers is missing"],
    [
      "bad layer digest",
      { ...dockerImage, layers: [{ mediaType: "x", size: 1, digest: "sha256:1234" }] },
      'layers[0].digest "sha256:1234" is not a sha256 or sha512 digest',
    ],
    [
      "negative size",
      { ...dockerImage, config: { ...dockerImage.config, size: -1 } },
      "config.size is not a non-negative integer",
    ],
    [
      "missing mediaType in descriptor",
      { ...dockerImage, config: { size: 1, digest: d("a") } },
      "config.mediaType is missing",
    ],
    [
      "annotation not a string",
      { ...ociImage, annotations: { a: 1 } },
      "annotations.a is not a string",
    ],
    [
      "platform os not a string",
      {
        ...ociIndex,
        manifests: [{ ...ociIndex.manifests[0], platform: { os: 1, architecture: "x" } }],
      },
      "manifests[0].platform.os is not a string",
    ],
    [
      "index media type on image",
      { ...dockerImage, mediaType: MediaType.ociIndex },
      "has the fields of a manifest",
    ],
    [
      "image media type on index",
      { ...ociIndex, mediaType: MediaType.ociManifest },
      "has the fields of an index",
    ],
    ["schema 1 without fsLayers", { ...schema1, fsLayers: undefined }, "fsLayers is missing"],
    ["schema 1 without name", { ...schema1, name: undefined }, "name is missing"],
    [
      "schema 1 history count",
      { ...schema1, history: schema1.history.slice(1) },
      "history has 2 entries for 3 fsLayers",
    ],
    [
      "schema 1 bad v1Compatibility",
      { ...schema1, history: [{ v1Compatibility: "{" }, ...schema1.history.slice(1)] },
      "history[0].v1Compatibility is not valid JSON",
    ],
    [
      "schema 1 bad blobSum",
      { ...schema1, fsLayers: [{ blobSum: "tarsum+sha256:x" }, ...schema1.fsLayers.slice(1)] },
      "fsLayers[0].blobSum",
    ],
  ];

  it.each(invalidCases)("rejects %s", (_name, document, reason) => {
    const file = fetched(document);
    let caught: unknown;
    try {
      parseManifest(file, "team/app");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegdavError);
    const error = caught as RegdavError;
    expect(error.code).toBe("INVALID_MANIFEST");
    expect(error.message).toContain(`invalid manifest ${file.digest} of team/app`);
    expect(error.message).toContain(reason);
  });
});

describe("mediaTypeOfManifest", () => {
  const bytes = (document: unknown) => Buffer.from(JSON.stringify(document));

  it.each([
    ["body mediaType wins", bytes(dockerImage), MediaType.ociManifest, MediaType.dockerManifest],
    ["unsigned schema 1", bytes(schema1), "application/json", MediaType.dockerSchema1],
    [
      "signed schema 1",
      bytes({ ...schema1, signatures: [{}] }),
      MediaType.dockerSchema1,
      MediaType.dockerSchema1Signed,
    ],
    [
      "content type without body field",
      bytes(helmChart),
      `${MediaType.ociManifest}; charset=utf-8`,
      MediaType.ociManifest,
    ],
    [
      "index shape for generic type",
      bytes({ schemaVersion: 2, manifests: [] }),
      "application/json",
      MediaType.ociIndex,
    ],
    ["manifest shape without type", bytes(helmChart), undefined, MediaType.ociManifest],
    ["not JSON", Buffer.from("<html>"), "text/html", "text/html"],
    ["nothing known", Buffer.from("x"), undefined, "application/octet-stream"],
  ])("%s", (_name, body, contentType, expected) => {
    expect(mediaTypeOfManifest(body, contentType)).toBe(expected);
  });
});
