import { chmod, cp, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";

import { repoRoot } from "../harness/tools.js";
import type { BlobDescriptor } from "../../src/source/image-source.js";

/** regclient's test layout, outside the repository and read-only: tests that change it work on a copy. */
export const fixture = join(repoRoot, "../shared/fixtures/regclient/testrepo");
export const refNameKey = "org.opencontainers.image.ref.name";

export interface Descriptor extends BlobDescriptor {
  mediaType: string;
  annotations?: Record<string, string>;
}

export interface ManifestBody {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

export async function fixtureIndex(): Promise<Descriptor[]> {
  const index = JSON.parse(await readFile(join(fixture, "index.json"), "utf8")) as {
    manifests: Descriptor[];
  };
  return index.manifests;
}

export async function fixtureBlob(digest: string): Promise<Buffer> {
  return readFile(join(fixture, "blobs", digest.replace(":", "/")));
}

/** Copies the fixture into `folder` and makes the copy writable, so the temp folder can be deleted. */
export async function copyFixture(folder: string): Promise<string> {
  const copy = join(folder, "testrepo");
  await cp(fixture, copy, { recursive: true });
  for (const path of [copy, join(copy, "blobs"), join(copy, "blobs", "sha256")])
    await chmod(path, 0o755);
  for (const name of await readdir(join(copy, "blobs", "sha256")))
    await chmod(join(copy, "blobs", "sha256", name), 0o644);
  await chmod(join(copy, "index.json"), 0o644);
  await chmod(join(copy, "oci-layout"), 0o644);
  return copy;
}
