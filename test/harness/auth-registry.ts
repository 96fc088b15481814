import { sha256Digest } from "./image-builder.js";
import { makeImageManifest, type ImageContent, type PushedImage } from "./push.js";
import { startRegistry, type TestRegistry } from "./registry.js";
import { startTokenIssuer, type TokenIssuer, type TokenIssuerOptions } from "./token-issuer.js";
import { makeTempDir } from "./tools.js";

/**
 * A distribution registry (Debian's docker-registry 2.8) in `auth: token`
 * mode with its token server, both on loopback, as a private registry with a
 * Docker Hub-style login behaves. Content is pushed with tokens that the
 * issuer signs directly, so the users' own tokens stay read-only.
 */
export interface TokenRegistry {
  readonly registry: TestRegistry;
  readonly issuer: TokenIssuer;
  /** Pushes an image's blobs and manifest; see pushImage in push.ts. */
  push(repository: string, reference: string, image: ImageContent): Promise<PushedImage>;
  stop(): Promise<void>;
}

export type TokenRegistryOptions = Omit<TokenIssuerOptions, "directory" | "service" | "issuer">;

export const tokenService = "regdav-test-registry";
const tokenIssuerName = "regdav-test-issuer";

export async function startTokenRegistry(options: TokenRegistryOptions): Promise<TokenRegistry> {
  const keys = await makeTempDir("token-keys");
  let issuer: TokenIssuer | undefined;
  try {
    issuer = await startTokenIssuer({
      ...options,
      directory: keys.path,
      service: tokenService,
      issuer: tokenIssuerName,
    });
    const registry = await startRegistry({
      token: {
        realm: issuer.realm,
        service: tokenService,
        issuer: tokenIssuerName,
        rootCertBundle: issuer.rootCertificateFile,
      },
    });
    const tokenIssuer = issuer;
    return {
      registry,
      issuer: tokenIssuer,
      push: (repository, reference, image) =>
        pushWithToken(registry.host, tokenIssuer, repository, reference, image),
      stop: async () => {
        await registry.stop();
        await tokenIssuer.close();
        await keys.remove();
      },
    };
  } catch (error) {
    await issuer?.close();
    await keys.remove();
    throw error;
  }
}

async function pushWithToken(
  host: string,
  issuer: TokenIssuer,
  repository: string,
  reference: string,
  image: ImageContent,
): Promise<PushedImage> {
  const token = issuer.mint("pusher", [
    { type: "repository", name: repository, actions: ["pull", "push"] },
  ]);
  const authorization = `Bearer ${token}`;
  for (const blob of [...image.layers, image.config]) {
    await uploadBlob(host, repository, blob.bytes, authorization);
  }

  const manifest = makeImageManifest(image);
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: { authorization, "content-type": manifest.mediaType },
    body: manifest.bytes,
  });
  await expectStatus(response, 201, `PUT manifest ${repository}:${reference}`);
  const digest = response.headers.get("docker-content-digest") ?? "";
  return { digest, manifest };
}

/** Uploads a blob monolithically: POST starts the upload, one PUT with `?digest=` commits it. */
async function uploadBlob(host: string, repository: string, bytes: Buffer, authorization: string) {
  const digest = sha256Digest(bytes);
  const start = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization },
  });
  await expectStatus(start, 202, `start blob upload to ${repository}`);

  const location = new URL(start.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { authorization, "content-type": "application/octet-stream" },
    body: bytes,
  });
  await expectStatus(put, 201, `upload blob ${digest} to ${repository}`);
}

async function expectStatus(response: Response, expected: number, action: string) {
  const text = await response.text();
  if (response.status !== expected) {
    throw new Error(`${action} failed: HTTP ${response.status}, expected ${expected}: ${text}`);
  }
}
