import type { Descriptor } from "../manifest/manifest-types.js";
import { imageFolder, type ImageLocation } from "./image-folder.js";
import { folderInfo, LazyFolder, ListedFolder, type TreeNode } from "./tree-node.js";
import { listReferrers } from "./referrers-lookup.js";

export const REFERRERS_FOLDER = "_referrers";

/** Maximum length of the type part of a referrer's folder name, in characters. */
const MAX_TYPE_LENGTH = 64;

/**
 * `_referrers/`: one folder per manifest whose subject is this folder's
 * manifest, such as a signature, an SBOM or an attestation, each shown as
 * an image folder. Listing it sends one request, to the referrers API or for
 * the referrers tag. A referrer's manifest is fetched when its folder is
 * opened.
 */
export class ReferrersFolder extends ListedFolder {
  readonly info = folderInfo(REFERRERS_FOLDER);

  constructor(
    private readonly location: ImageLocation,
    private readonly subject: string,
  ) {
    super();
  }

  protected async list(): Promise<TreeNode[]> {
    const { source, repository } = this.location;
    const referrers = uniqueByDigest(await listReferrers(source, repository, this.subject));
    const names = referrerFolderNames(referrers);
    return referrers.map((referrer, position) => {
      const name = names[position]!;
      return new LazyFolder(name, () => this.openReferrer(referrer.digest, name));
    });
  }

  /** Opens a referrer's image folder, without a tag, because a referrer is known by digest only. */
  private async openReferrer(digest: string, name: string): Promise<TreeNode> {
    const { context, source, repository } = this.location;
    const manifest = await source.getManifest(repository, digest);
    return imageFolder({ context, source, repository }, manifest, name);
  }
}

/**
 * Names referrer folders by type and digest, such as
 * `vnd.dev.cosign.artifact.sig.v1-json-1a2b3c4d5e6f`. The type is the
 * artifactType, else the media type, lowercased and without an
 * `application/` prefix. Every character other than letters, digits, `.`,
 * `_` and `-` becomes `-`. Then come `-` and 12 hex digits of the digest,
 * or the whole hex where two names would collide.
 */
export function referrerFolderNames(referrers: readonly Descriptor[]): string[] {
  const short = referrers.map(
    (referrer) => `${typeLabel(referrer)}-${hexOf(referrer).slice(0, 12)}`,
  );
  return short.map((name, position) => {
    const collides = short.indexOf(name) !== position || short.lastIndexOf(name) !== position;
    return collides ? `${typeLabel(referrers[position]!)}-${hexOf(referrers[position]!)}` : name;
  });
}

function typeLabel(referrer: Descriptor): string {
  const type = referrer.artifactType ?? referrer.mediaType;
  const label = type
    .toLowerCase()
    .replace(/^application\//, "")
    .replace(/[^a-z0-9._-]+/g, "-")
    .slice(0, MAX_TYPE_LENGTH)
    .replace(/^[.-]+|[.-]+$/g, "");
  return label || "referrer";
}

function hexOf(referrer: Descriptor): string {
  return referrer.digest.slice(referrer.digest.indexOf(":") + 1);
}

function uniqueByDigest(referrers: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return referrers.filter((referrer) => !seen.has(referrer.digest) && seen.add(referrer.digest));
}
