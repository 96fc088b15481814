import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { setLogLevel, setLogSink } from "../../src/log.js";
import { MediaType } from "../../src/manifest/media-types.js";
import { parseManifest } from "../../src/manifest/parse.js";
import { computeDigest } from "../../src/reference/digest.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import { signSchema1 } from "./schema1-signing.js";
import { pushBlob, pushManifest, startTestRegistry, type TestRegistry } from "./test-registry.js";

let registry: TestRegistry;
let source: RegistrySource;
const logLines: string[] = [];

const layerBytes = Buffer.from("layer content, not a real tar");
const configBytes = Buffer.from(
  JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers" } }),
);
let layer: { digest: string; size: number };
let config: { digest: string; size: number };
let ociManifest: Buffer;
let dockerManifest: Buffer;
let index: Buffer;

function manifestOf(mediaType: string, configType: string, layerType: string): Buffer {
  const document = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configType, ...config },
    layers: [{ mediaType: layerType, ...layer }],
  };
  return Buffer.from(JSON.stringify(document, null, 2));
}

async function caught(promise: Promise<unknown>): Promise<RegdavError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegdavError) return error;
    throw error;
  }
  throw new Error("expected a RegdavError");
}

beforeAll(async () => {
  registry = await startTestRegistry();
  for (const repository of ["team/app", "zeta", "alpha"]) {
    layer = await pushBlob(registry, repository, layerBytes);
    config = await pushBlob(registry, repository, configBytes);
  }

  ociManifest = manifestOf(MediaType.ociManifest, MediaType.ociConfig, MediaType.ociLayerGzip);
  dockerManifest = manifestOf(
    MediaType.dockerManifest,
    MediaType.dockerConfig,
    MediaType.dockerLayerGzip,
  );
  await pushManifest(registry, "team/app", "oci", ociManifest, MediaType.ociManifest);
  await pushManifest(registry, "team/app", "docker", dockerManifest, MediaType.dockerManifest);
  index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: computeDigest(ociManifest),
          size: ociManifest.length,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    }),
  );
  await pushManifest(registry, "team/app", "multi", index, MediaType.ociIndex);

  setLogSink((line) => logLines.push(line));
  setLogLevel("debug");
  source = new RegistrySource({ name: registry.host, insecure: false, pageSize: 2 });
});

afterAll(async () => {
  setLogLevel("warn");
  setLogSink((line) => process.stderr.write(line + "\n"));
  await source?.close();
  await registry?.stop();
});

describe("RegistrySource against docker-registry", () => {
  it("falls back to HTTP on loopback", async () => {
    const tags = await source.listTags("team/app");
    expect(tags.length).toBeGreaterThan(0);
    expect(logLines.some((line) => line.includes(`url=https://${registry.host}/v2/`))).toBe(true);
    expect(logLines.some((line) => line.includes("registry reached over plain HTTP"))).toBe(true);
  });

  it("lists the catalog over all pages", async () => {
    logLines.length = 0;
    expect(await source.listRepositories()).toEqual(["alpha", "team/app", "zeta"]);
    const catalogRequests = logLines.filter(
      (line) => line.includes("/v2/_catalog") && line.includes("status=200"),
    );
    expect(catalogRequests).toHaveLength(2);
  });

  it("lists tags", async () => {
    expect((await source.listTags("team/app")).sort()).toEqual(["docker", "multi", "oci"]);
  });

  it("fetches an OCI manifest by tag", async () => {
    const manifest = await source.getManifest("team/app", "oci");
    expect(manifest.digest).toBe(computeDigest(ociManifest));
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    expect(manifest.bytes.equals(ociManifest)).toBe(true);
    const parsed = parseManifest(manifest);
    expect(parsed.kind).toBe("image");
  });

  it("fetches a Docker manifest by digest", async () => {
    const digest = computeDigest(dockerManifest);
    const manifest = await source.getManifest("team/app", digest);
    expect(manifest.digest).toBe(digest);
    expect(manifest.mediaType).toBe(MediaType.dockerManifest);
    const parsed = parseManifest(manifest);
    if (parsed.kind !== "image") throw new Error(`expected an image, got ${parsed.kind}`);
    expect(parsed.format).toBe("docker");
    expect(parsed.layers[0]!.digest).toBe(layer.digest);
  });

  it("fetches an index", async () => {
    const manifest = await source.getManifest("team/app", "multi");
    expect(manifest.digest).toBe(computeDigest(index));
    expect(manifest.mediaType).toBe(MediaType.ociIndex);
    expect(parseManifest(manifest).kind).toBe("index");
  });

  it("sends HEAD for a manifest", async () => {
    const head = await source.headManifest("team/app", "oci");
    expect(head).toEqual({
      digest: computeDigest(ociManifest),
      mediaType: MediaType.ociManifest,
      size: ociManifest.length,
    });
  });

  it("streams a verified blob", async () => {
    const stream = await source.openBlob("team/app", { digest: layer.digest, size: layer.size });
    expect(await text(stream)).toBe(layerBytes.toString());
  });

  it("rejects a blob whose size differs", async () => {
    const error = await caught(
      source.openBlob("team/app", { digest: layer.digest, size: layer.size + 1 }),
    );
    expect(error.code).toBe("SIZE_MISMATCH");
    expect(error.message).toContain(`the registry declared ${layer.size} (Content-Length)`);
    expect(error.message).toContain(layer.digest);
    expect(error.message).toContain("team/app");
  });

  it("maps a missing manifest to NOT_FOUND", async () => {
    const error = await caught(source.getManifest("team/app", "missing"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(registry.host);
    expect(error.message).toContain("/v2/team/app/manifests/missing");
    expect(error.message).toContain("MANIFEST_UNKNOWN");
  });

  it("maps a missing HEAD to NOT_FOUND", async () => {
    const error = await caught(source.headManifest("team/app", "missing"));
    expect(error.code).toBe("NOT_FOUND");
  });

  it("maps a missing repository to NOT_FOUND", async () => {
    const error = await caught(source.listTags("nobody/here"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("NAME_UNKNOWN");
  });

  it("maps a missing blob to NOT_FOUND", async () => {
    const error = await caught(
      source.openBlob("team/app", { digest: computeDigest(Buffer.from("none")) }),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain("BLOB_UNKNOWN");
  });

  it.each([
    ["repository", () => source.listTags("Team/App")],
    ["tag", () => source.getManifest("team/app", "-bad")],
    ["digest", () => source.getManifest("team/app", "sha256:abc")],
    ["blob digest", () => source.openBlob("team/app", { digest: "md5:abc" })],
    ["path in repository", () => source.getManifest("team/../x", "oci")],
  ])("rejects an invalid %s before any request", async (_name, action) => {
    logLines.length = 0;
    const error = await caught(action());
    expect(error.code).toBe("BAD_REQUEST");
    expect(logLines.filter((line) => line.includes("http request"))).toEqual([]);
  });
});

describe("schema 1 against docker-registry", () => {
  let signed: Buffer;
  let payload: Buffer;
  let pushedDigest: string;

  beforeAll(async () => {
    const v1 = JSON.stringify({
      id: "1".repeat(64),
      architecture: "amd64",
      config: { Cmd: ["sh"] },
    });
    payload = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 1,
          name: "team/app",
          tag: "legacy",
          architecture: "amd64",
          fsLayers: [{ blobSum: layer.digest }],
          history: [{ v1Compatibility: v1 }],
        },
        null,
        3,
      ),
    );
    signed = signSchema1(payload);
    pushedDigest = await pushManifest(
      registry,
      "team/app",
      "legacy",
      signed,
      MediaType.dockerSchema1Signed,
    );
  });

  it("registry digests the payload without signatures", () => {
    expect(pushedDigest).toBe(computeDigest(payload));
    expect(pushedDigest).not.toBe(computeDigest(signed));
  });

  it("verifies a signed manifest fetched by tag", async () => {
    const manifest = await source.getManifest("team/app", "legacy");
    expect(manifest.digest).toBe(pushedDigest);
    expect(manifest.mediaType).toBe(MediaType.dockerSchema1Signed);
    expect(manifest.bytes.toString()).toContain('"signatures"');
    const parsed = parseManifest(manifest);
    if (parsed.kind !== "schema1") throw new Error(`expected schema1, got ${parsed.kind}`);
    expect(parsed.signed).toBe(true);
    expect(parsed.layers.map((item) => item.digest)).toEqual([layer.digest]);
  });

  it("verifies a signed manifest fetched by digest", async () => {
    const manifest = await source.getManifest("team/app", pushedDigest);
    expect(manifest.digest).toBe(pushedDigest);
  });
});
