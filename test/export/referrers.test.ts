import { Readable } from "node:stream";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { SourceCache } from "../../src/cache/source-cache.js";
import { RegdavError } from "../../src/errors.js";
import type { Descriptor } from "../../src/manifest/manifest-types.js";
import { RegistrySource } from "../../src/registry/registry-source.js";
import type { FetchedManifest, ImageSource } from "../../src/source/image-source.js";
import { referrerFolderNames } from "../../src/tree/referrers-folder.js";
import { listReferrers, referrersTag } from "../../src/tree/referrers-lookup.js";
import { sendJson, startFakeServer, type FakeServer } from "../registry/fake-server.js";

const subject = `sha256:${"a".repeat(64)}`;
const sbom: Descriptor = {
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${"1".repeat(64)}`,
  size: 500,
  artifactType: "application/spdx+json",
};
const signature: Descriptor = {
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${"2".repeat(64)}`,
  size: 600,
  artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
  annotations: { "dev.cosignproject.cosign/signature": "x" },
};

function indexOf(manifests: Descriptor[]) {
  return { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests };
}

describe("referrersTag", () => {
  it.each([
    [`sha256:${"ab".repeat(32)}`, `sha256-${"ab".repeat(32)}`],
    [`sha512:${"cd".repeat(64)}`, `sha512-${"cd".repeat(32)}`],
  ])("names %s", (digest, tag) => {
    expect(referrersTag(digest)).toBe(tag);
  });

  it("rejects an invalid digest", () => {
    expect(() => referrersTag("sha256:xyz")).toThrow(RegdavError);
  });
});

describe("referrerFolderNames", () => {
  it("names by artifact type and digest", () => {
    expect(referrerFolderNames([sbom, signature])).toEqual([
      "spdx-json-111111111111",
      "vnd.dev.cosign.artifact.sig.v1-json-222222222222",
    ]);
  });

  it("falls back to the media type", () => {
    const index: Descriptor = {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: `sha256:${"3".repeat(64)}`,
      size: 10,
    };
    expect(referrerFolderNames([index])).toEqual(["vnd.oci.image.index.v1-json-333333333333"]);
  });

  it("replaces characters that are unsafe in file names", () => {
    const odd = { ...sbom, artifactType: 'Text/Plain; charset="utf-8"' };
    expect(referrerFolderNames([odd])).toEqual(["text-plain-charset-utf-8-111111111111"]);
  });

  it("names an empty type as referrer", () => {
    const odd = { ...sbom, artifactType: "/..." };
    expect(referrerFolderNames([odd])).toEqual(["referrer-111111111111"]);
  });

  it("gives colliding names the whole hex", () => {
    const first = { ...sbom, digest: `sha256:${"4".repeat(12)}${"0".repeat(52)}` };
    const second = { ...sbom, digest: `sha256:${"4".repeat(12)}${"f".repeat(52)}` };
    expect(referrerFolderNames([first, second])).toEqual([
      `spdx-json-${first.digest.slice(7)}`,
      `spdx-json-${second.digest.slice(7)}`,
    ]);
  });
});

describe("RegistrySource.listReferrers", () => {
  let server: FakeServer;
  let source: RegistrySource;

  beforeAll(async () => {
    server = await startFakeServer((request, response) => {
      const url = new URL(request.url, "http://registry");
      if (url.pathname === "/v2/") return sendJson(response, 200, {});
      if (url.pathname === `/v2/team/app/referrers/${subject}`) {
        if (url.searchParams.get("page") === "2")
          return sendJson(response, 200, indexOf([signature]));
        const link = `</v2/team/app/referrers/${subject}?page=2>; rel="next"`;
        return sendJson(response, 200, indexOf([sbom]), { link });
      }
      if (url.pathname === `/v2/team/empty/referrers/${subject}`) {
        return sendJson(response, 200, indexOf([]));
      }
      if (url.pathname === `/v2/team/bad/referrers/${subject}`) {
        return sendJson(response, 200, { manifests: [{ digest: "nope" }] });
      }
      if (url.pathname === `/v2/team/loop/referrers/${subject}`) {
        return sendJson(response, 200, indexOf([]), { link: `<${url.pathname}>; rel="next"` });
      }
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("404 page not found\n");
    });
    source = new RegistrySource({ name: server.host, insecure: true });
  });

  afterAll(async () => {
    await source?.close();
    await server?.close();
  });

  it("reads every page", async () => {
    expect(await source.listReferrers("team/app", subject)).toEqual([sbom, signature]);
  });

  it("asks for an OCI index", async () => {
    await source.listReferrers("team/app", subject);
    const request = server.requests.find((sent) => sent.url.includes("/referrers/"));
    expect(request?.headers.accept).toBe("application/vnd.oci.image.index.v1+json");
  });

  it("returns an empty list as empty", async () => {
    expect(await source.listReferrers("team/empty", subject)).toEqual([]);
  });

  it("returns undefined on 404", async () => {
    expect(await source.listReferrers("team/missing", subject)).toBeUndefined();
  });

  it("rejects an invalid descriptor", async () => {
    await expect(source.listReferrers("team/bad", subject)).rejects.toThrow(
      /invalid referrers index/,
    );
  });

  it("rejects a page that links to itself", async () => {
    await expect(source.listReferrers("team/loop", subject)).rejects.toThrow(/linked back/);
  });

  it("rejects an invalid digest before any request", async () => {
    const before = server.requests.length;
    await expect(source.listReferrers("team/app", "sha256:zz")).rejects.toThrow(RegdavError);
    expect(server.requests.length).toBe(before);
  });
});

/** An image source with fixed manifests by tag and, optionally, a referrers API. */
class FakeSource implements ImageSource {
  readonly name: string;
  readonly requested: string[] = [];

  constructor(
    name: string,
    private readonly manifests: Record<string, unknown>,
    referrers?: Descriptor[] | "no api",
  ) {
    this.name = name;
    if (referrers !== undefined) {
      Object.assign(this, {
        listReferrers: async () => (referrers === "no api" ? undefined : referrers),
      });
    }
  }

  async listTags(): Promise<string[]> {
    return Object.keys(this.manifests);
  }

  async getManifest(_repository: string, reference: string): Promise<FetchedManifest> {
    this.requested.push(reference);
    const document = this.manifests[reference];
    if (document === undefined) throw new RegdavError("NOT_FOUND", `no manifest ${reference}`);
    const bytes = Buffer.from(JSON.stringify(document));
    const mediaType = (document as { mediaType?: string }).mediaType ?? "application/json";
    return { digest: `sha256:${"9".repeat(64)}`, mediaType, bytes };
  }

  async openBlob(): Promise<Readable> {
    throw new RegdavError("NOT_FOUND", "no blobs");
  }
}

describe("listReferrers", () => {
  const tag = referrersTag(subject);

  it("uses the referrers API when present", async () => {
    const fake = new FakeSource("api.test", { [tag]: indexOf([signature]) }, [sbom]);
    expect(await listReferrers(new SourceCache(fake), "team/app", subject)).toEqual([sbom]);
    expect(fake.requested).toEqual([]);
  });

  it("falls back to the referrers tag", async () => {
    const fake = new FakeSource("fallback.test", { [tag]: indexOf([signature]) }, "no api");
    expect(await listReferrers(new SourceCache(fake), "team/app", subject)).toEqual([signature]);
    expect(fake.requested).toEqual([tag]);
  });

  it("reads the tag of a source without the API", async () => {
    const fake = new FakeSource("plain.test", { [tag]: indexOf([sbom, signature]) });
    expect(await listReferrers(new SourceCache(fake), "team/app", subject)).toEqual([
      sbom,
      signature,
    ]);
  });

  it("returns none without a referrers tag", async () => {
    const fake = new FakeSource("none.test", {});
    expect(await listReferrers(new SourceCache(fake), "team/app", subject)).toEqual([]);
  });

  it("returns none when the tag is not an index", async () => {
    const image = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sbom.digest,
        size: 2,
      },
      layers: [],
    };
    const fake = new FakeSource("image.test", { [tag]: image });
    expect(await listReferrers(new SourceCache(fake), "team/app", subject)).toEqual([]);
  });

  it("shares one lookup between calls", async () => {
    const fake = new FakeSource("shared.test", { [tag]: indexOf([sbom]) }, "no api");
    const cache = new SourceCache(fake);
    await Promise.all([
      listReferrers(cache, "team/app", subject),
      listReferrers(cache, "team/app", subject),
    ]);
    await listReferrers(cache, "team/app", subject);
    expect(fake.requested).toEqual([tag]);
  });
});
