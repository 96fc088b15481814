import { sha256Digest } from "./image-builder.js";
import type { Credentials } from "./registry.js";

/** An Accept header value that lists every manifest type the harness pushes. */
export const acceptAllManifests = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
].join(", ");

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  credentials?: Credentials | undefined;
}

/**
 * Sends one request to the registry at `host` (`127.0.0.1:PORT`) over plain
 * HTTP. `pathOrUrl` is a path such as `/v2/` or an absolute URL from a
 * Location header.
 */
export async function registryRequest(
  host: string,
  pathOrUrl: string,
  options: RequestOptions = {},
): Promise<Response> {
  const url = new URL(pathOrUrl, `http://${host}`);
  if (url.host !== host) {
    throw new Error(`registry at ${host} redirected to another host: ${url.href}`);
  }

  const headers: Record<string, string> = { ...options.headers };
  if (options.credentials) {
    const { username, password } = options.credentials;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return fetch(url, { method: options.method ?? "GET", headers, body: options.body });
}

/** Reads the body and throws when the status is not one of `expected`. */
export async function expectStatus(
  response: Response,
  expected: readonly number[],
  action: string,
): Promise<Buffer> {
  const body = Buffer.from(await response.arrayBuffer());
  if (!expected.includes(response.status)) {
    const text = body.toString("utf8").slice(0, 2_000);
    throw new Error(
      `${action} failed: HTTP ${response.status}, expected ${expected.join(" or ")}: ${text}`,
    );
  }
  return body;
}

export interface FetchedContent {
  bytes: Buffer;
  contentType: string | null;
  /** The Docker-Content-Digest response header. */
  digest: string | null;
}

/** Fetches a manifest by tag or digest, accepting every manifest type unless `accept` is given. */
export async function fetchManifest(
  host: string,
  repository: string,
  reference: string,
  options: { accept?: string; credentials?: Credentials } = {},
): Promise<FetchedContent> {
  const response = await registryRequest(host, `/v2/${repository}/manifests/${reference}`, {
    headers: { accept: options.accept ?? acceptAllManifests },
    credentials: options.credentials,
  });
  const bytes = await expectStatus(response, [200], `GET manifest ${repository}:${reference}`);
  return {
    bytes,
    contentType: response.headers.get("content-type"),
    digest: response.headers.get("docker-content-digest"),
  };
}

/** Fetches a blob's bytes, without checking them against the digest. */
export async function fetchBlob(
  host: string,
  repository: string,
  digest: string,
  options: { credentials?: Credentials } = {},
): Promise<Buffer> {
  const response = await registryRequest(host, `/v2/${repository}/blobs/${digest}`, {
    credentials: options.credentials,
  });
  return expectStatus(response, [200], `GET blob ${repository}@${digest}`);
}

/** Lists up to 1000 tags of a repository, from the first page of the tag list. */
export async function fetchTags(
  host: string,
  repository: string,
  options: { credentials?: Credentials } = {},
): Promise<string[]> {
  const response = await registryRequest(host, `/v2/${repository}/tags/list?n=1000`, {
    credentials: options.credentials,
  });
  const body = await expectStatus(response, [200], `GET tags of ${repository}`);
  const parsed = JSON.parse(body.toString("utf8")) as { tags: string[] | null };
  return parsed.tags ?? [];
}

export interface PushOptions {
  /** Basic-auth user for a registry started with `htpasswd`. */
  credentials?: Credentials | undefined;
}

/**
 * Uploads a blob monolithically: POST starts an upload session, and one PUT
 * with `?digest=` sends all bytes and commits it. Skips the upload when the
 * registry already has the blob. Returns the digest.
 */
export async function pushBlob(
  host: string,
  repository: string,
  bytes: Buffer,
  options: PushOptions = {},
): Promise<string> {
  const digest = sha256Digest(bytes);
  const { credentials } = options;
  const head = await registryRequest(host, `/v2/${repository}/blobs/${digest}`, {
    method: "HEAD",
    credentials,
  });
  await head.arrayBuffer();
  if (head.status === 200) return digest;

  const start = await registryRequest(host, `/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    credentials,
  });
  await expectStatus(start, [202], `start blob upload to ${repository}`);
  const location = start.headers.get("location");
  if (location === null) {
    throw new Error(`registry ${host} sent no Location for the upload to ${repository}`);
  }

  const uploadUrl = new URL(location, `http://${host}`);
  uploadUrl.searchParams.set("digest", digest);
  const put = await registryRequest(host, uploadUrl.href, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
    credentials,
  });
  await expectStatus(put, [201], `upload blob ${digest} to ${repository}`);
  return digest;
}

/**
 * Puts a manifest under a tag or digest and returns the digest the registry
 * reports in Docker-Content-Digest.
 */
export async function pushManifest(
  host: string,
  repository: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  options: PushOptions = {},
): Promise<string> {
  const response = await registryRequest(host, `/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: bytes,
    credentials: options.credentials,
  });
  await expectStatus(response, [201], `PUT manifest ${repository}:${reference}`);
  const digest = response.headers.get("docker-content-digest");
  if (digest === null) {
    throw new Error(
      `registry ${host} sent no Docker-Content-Digest for ${repository}:${reference}`,
    );
  }
  return digest;
}
